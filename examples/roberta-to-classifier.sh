#!/bin/sh
# From roberta-base to a deployed classifier: the README's walk-through, step by step.
# The defaults are a user's: roberta-base as downloaded from the Hugging Face Hub and SST-2 as
# JSON Lines (README: "From roberta-base to a deployed classifier" says how to get both).
# `make demo` runs this same file on the bundled fixtures, with the variables set to them.
set -eu
LSRCONV=${LSRCONV:-lsrconv}
BASE=${BASE:-roberta-base}               # the checkpoint as downloaded: a masked LM, no classifier
TRAIN=${TRAIN:-sst2-train.jsonl}         # one {"sentence": ..., "label": 0 or 1} per line
DEV=${DEV:-sst2-dev.jsonl}
LABELS=${LABELS:-negative,positive}      # label names in id order (0 = negative, 1 = positive)
TEXT=${TEXT:-"A gripping, beautifully acted film."}
WORK=${WORK:-sst2}                       # everything written goes under here
TRAIN_FLAGS=${TRAIN_FLAGS:---max-steps 300 --eval-every 100}

# 1. What is it? Format, tensors, architecture, and no classification head.
$LSRCONV inspect "$BASE"

# 2. A clean Hugging Face directory: safetensors, canonical names, config and tokenizer files.
$LSRCONV import "$BASE" --out "$WORK/base" --force

# 3. An LSR adapter on query and value of every layer, and a new head for the labels.
#    Ctrl-C stops with a checkpoint; `train --resume "$WORK/adapter"` continues it.
$LSRCONV train --model "$WORK/base" --train "$TRAIN" --eval "$DEV" --labels "$LABELS" \
    --out "$WORK/adapter" $TRAIN_FLAGS --force

# 4. Measure it and try it, without merging anything.
$LSRCONV eval --model "$WORK/base" --adapter "$WORK/adapter" --data "$DEV"
$LSRCONV predict --model "$WORK/base" --adapter "$WORK/adapter" --text "$TEXT"

# 5. Check the adapter files against their schema and against the base they were trained on.
$LSRCONV validate "$WORK/adapter" --model "$WORK/base"

# 6. Ship it: a merged RobertaForSequenceClassification that transformers loads as is ...
$LSRCONV merge --model "$WORK/base" --adapter "$WORK/adapter" --out "$WORK/classifier" --force
$LSRCONV predict --model "$WORK/classifier" --text "$TEXT"

# ... or a PEFT LoRA adapter (the head under modules_to_save) for PeftModel on the base.
$LSRCONV export --adapter "$WORK/adapter" --format peft-lora --out "$WORK/peft" --force
