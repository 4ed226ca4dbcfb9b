#!/usr/bin/env bash
# Builds the libFuzzer harnesses (Fuzz/<name>/main.swift) with -sanitize=fuzzer,address into
# $FUZZ_BUILD_DIR and runs each for $FUZZ_SECONDS; exits non-zero if any run found a crash,
# sanitizer report, leak, timeout or out-of-memory. `make fuzz` calls this; README "Fuzzing".
#
#   Fuzz/run.sh                      every target, 60 s each
#   FUZZ_SECONDS=600 Fuzz/run.sh zip pickle
#   Fuzz/run.sh --build-only         build, run nothing
#
# Per target, under $FUZZ_BUILD_DIR/fuzz/<name>/: corpus/ (what libFuzzer keeps; reused on the
# next run), seeds/ (copied from Fixtures/ on every run), artifacts/ (crash-*, leak-*,
# timeout-*, oom-* inputs), log.txt. A found input belongs in Tests/LSRFormatsTests (or the
# suite of its parser) as a regression test; once fixed, it goes under Fuzz/regressions/<name>/
# and is replayed before every run (until then under Fuzz/open/<name>/, not replayed).
set -euo pipefail
cd "$(dirname "$0")/.."

SWIFT=${SWIFT:-swift}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_BUILD_DIR=${FUZZ_BUILD_DIR:-.build-fuzz}
FUZZ_JOBS=${FUZZ_JOBS:-}
# Extra libFuzzer options, e.g. FUZZ_FLAGS="-jobs=4 -workers=4".
FUZZ_FLAGS=${FUZZ_FLAGS:-}
ALL_TARGETS="safetensors zip pickle json torch-legacy schema tokenizer charsmap dataset"

build_only=0
targets=()
for arg in "$@"; do
    case "$arg" in
        --build-only) build_only=1 ;;
        *) targets+=("$arg") ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || read -r -a targets <<<"$ALL_TARGETS"

for t in "${targets[@]}"; do
    [ -f "Fuzz/$t/main.swift" ] || { echo "fuzz: no target '$t' (have: $ALL_TARGETS)" >&2; exit 2; }
done

# -use-ld=lld: gold fails (internal error in format_file_lineno) on the sanitized objects.
build() {
    LSRCONV_FUZZ=1 "$SWIFT" build -c debug --scratch-path "$FUZZ_BUILD_DIR" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld ${FUZZ_JOBS:+--jobs "$FUZZ_JOBS"} \
        --product "fuzz-$1"
}

# Seeds: small files from Fixtures/ that each parser reads (the pickle target gets the data.pkl
# records of the torch zip fixtures, extracted with python3 when there is one; tokenizer and
# dataset inputs start with a mode byte, see their main.swift).
seed() {
    local t=$1 dir=$2
    rm -rf "$dir"; mkdir -p "$dir"
    case "$t" in
        safetensors)
            cp Fixtures/safetensors/*.safetensors Fixtures/reference/lsr.safetensors \
               Fixtures/reference/trajectory.safetensors Fixtures/reference/adapter/adapter_model.safetensors "$dir"/ ;;
        zip)
            cp Fixtures/malformed/zip_*.pt Fixtures/malformed/base.pt Fixtures/malformed/torchscript.pt \
               Fixtures/malformed/storage_*.pt Fixtures/malformed/tensor_*.pt Fixtures/torch/edge/transposed.pt "$dir"/
            rm -f "$dir"/zip_bomb_honest.pt ;;
        pickle)
            cp Fixtures/malformed/legacy_*.pt Fixtures/torch/edge/transposed_legacy.pt "$dir"/
            rm -f "$dir"/legacy_tar.pt
            if command -v python3 >/dev/null; then
                python3 - "$dir" Fixtures/malformed/pickle_*.pt Fixtures/malformed/memo_*.pt \
                    Fixtures/malformed/self_containing_*.pt Fixtures/malformed/base.pt Fixtures/torch/edge/transposed.pt <<'PY'
import os, sys, zipfile
out = sys.argv[1]
for path in sys.argv[2:]:
    try:
        z = zipfile.ZipFile(path)
        name = next(n for n in z.namelist() if n.endswith("/data.pkl"))
        data = z.read(name)
    except Exception:
        continue
    with open(os.path.join(out, os.path.basename(path) + ".pkl"), "wb") as f:
        f.write(data)
PY
            fi ;;
        json)
            cp Fixtures/safetensors/all_dtypes.json Fixtures/reference/forward.json Fixtures/tokenizer/vocab-merges/*.json \
               Fixtures/reference/adapter/adapter_config.json Fixtures/tiny-roberta/config.json \
               Fixtures/tiny-roberta-sharded/model.safetensors.index.json "$dir"/
            cp schemas/lsr-adapter.schema.json schemas/inspect-output.schema.json "$dir"/ ;;
        torch-legacy)
            cp Fixtures/malformed/legacy_*.pt Fixtures/torch/edge/transposed_legacy.pt "$dir"/
            rm -f "$dir"/legacy_tar.pt ;;
        schema)
            cp schemas/*.schema.json "$dir"/
            { cat schemas/predict-line.schema.json; printf '\0{"id":1,"label":"a","scores":[0.5]}'; } >"$dir/predict-line-instance" ;;
        tokenizer)
            { printf '\0'; cat Fixtures/tokenizer/template/tokenizer.json; } >"$dir/template"
            { printf '\0'; cat Fixtures/learning/model/tokenizer.json; printf '\0'; cat Fixtures/learning/model/tokenizer_config.json; } >"$dir/learning"
            { printf '\1'; cat Fixtures/tokenizer/vocab-merges/vocab.json; printf '\0'; cat Fixtures/tokenizer/vocab-merges/merges.txt
              printf '\0'; cat Fixtures/tokenizer/vocab-merges/tokenizer_config.json
              printf '\0'; cat Fixtures/tokenizer/vocab-merges/added_tokens.json; } >"$dir/vocab-merges"
            { printf '\0'; cat Fixtures/tokenizers/wordpiece/tokenizer.json; } >"$dir/wordpiece"
            { printf '\0'; cat Fixtures/tokenizers/unigram/tokenizer.json; } >"$dir/unigram"
            { printf '\3'; cat Fixtures/tokenizers/wordpiece-vocab/vocab.txt; printf '\0'
              cat Fixtures/tokenizers/wordpiece-vocab/tokenizer_config.json; } >"$dir/vocab-txt" ;;
        charsmap)
            # The decoded precompiled_charsmap of the Unigram fixture, and a few bytes of it.
            python3 -c 'import base64, json, sys
m = json.load(open("Fixtures/tokenizers/unigram/tokenizer.json"))["normalizer"]["normalizers"][0]["precompiled_charsmap"]
open(sys.argv[1] + "/unigram.charsmap", "wb").write(base64.b64decode(m))' "$dir"
            head -c 600 "$dir/unigram.charsmap" >"$dir/head.charsmap" ;;
        dataset)
            { printf '\0'; cat Fixtures/demo/dev.jsonl; } >"$dir/dev.jsonl"
            printf '\1text,label\n"a, ""quoted"" one",pos\n"multi\nline",neg\r\nplain,1\n' >"$dir/small.csv"
            printf '\2sentence\tlabel\nfirst one\t0\nsecond\t1.5\n' >"$dir/small.tsv"
            printf '\3gj04\t1\t\tOur friends will not buy this analysis.\ngj04\t0\t*\tThey drank the pub.\n' >"$dir/cola.tsv" ;;
    esac
}

failed=()
summary=()
for t in "${targets[@]}"; do
    echo "== fuzz-$t: build"
    build "$t"
    [ "$build_only" = 1 ] && continue
    work="$FUZZ_BUILD_DIR/fuzz/$t"
    mkdir -p "$work/corpus" "$work/artifacts"
    seed "$t" "$work/seeds"
    # Inputs found earlier and fixed since: each runs once first, and must pass.
    replay=""
    if compgen -G "Fuzz/regressions/$t/*" >/dev/null; then
        echo "== fuzz-$t: replaying Fuzz/regressions/$t/"
        if ! SWIFT_BACKTRACE=enable=no "$FUZZ_BUILD_DIR/debug/fuzz-$t" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
            Fuzz/regressions/"$t"/* >"$work/replay.txt" 2>&1; then
            failed+=("$t")
            replay="regression replay FAILED; "
            echo "!! fuzz-$t: a regression input fails again; see $work/replay.txt"
            tail -30 "$work/replay.txt"
        fi
    fi
    # Fuzz/open/<target>/ holds found inputs whose bug is not fixed yet (see its test); they are
    # not replayed, or every run would fail on them.
    dict=()
    [ -f "Fuzz/$t.dict" ] && dict=(-dict="Fuzz/$t.dict")
    echo "== fuzz-$t: ${FUZZ_SECONDS}s (log: $work/log.txt)"
    status=0
    # SWIFT_BACKTRACE=enable=no: an orphaned backtracer can hang the run (SECURITY.md).
    # -detect_leaks=1 is the default with ASan; named so that a leak is known to fail the run.
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
        "$FUZZ_BUILD_DIR/debug/fuzz-$t" "$work/corpus" "$work/seeds" "${dict[@]}" \
        -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
        -max_len="${FUZZ_MAX_LEN:-65536}" -detect_leaks=1 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" $FUZZ_FLAGS >"$work/log.txt" 2>&1 || status=$?
    # The harness must prove it ran: libFuzzer's "Done N runs" line (a binary that never reached
    # LLVMFuzzerRunDriver would exit 0 having fuzzed nothing).
    done_line=$(grep -E '^Done [0-9]+ runs' "$work/log.txt" | tail -1 || true)
    stats=$(grep -E '^#[0-9]+' "$work/log.txt" | tail -1 | sed -E 's/^(#[0-9]+)[[:space:]]+[A-Z]+[[:space:]]+/\1 /' || true)
    if [ "$status" -ne 0 ] || [ -z "$done_line" ]; then
        failed+=("$t")
        echo "!! fuzz-$t FAILED (exit $status); last lines of $work/log.txt:"
        tail -40 "$work/log.txt"
        ls -la "$work/artifacts"
    else
        echo "   $done_line; $stats"
    fi
    summary+=("fuzz-$t: ${replay}exit $status; ${done_line:-no Done line}; $stats")
done

[ "$build_only" = 1 ] && exit 0
echo "== summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failures in: ${failed[*]} (inputs under $FUZZ_BUILD_DIR/fuzz/<target>/artifacts/)" >&2
    exit 1
fi
