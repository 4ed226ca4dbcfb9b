#!/usr/bin/env python3
"""Reference encodings for lsrconv's WordPiece and Unigram tokenizers (Sources/LSRTokenizers).

Run from the repository root, after tokenizer_reference.py (whose corpus this one reuses):

    .venv-gen/bin/python Fixtures/generate/tokenizers_reference.py

Deterministic (fixed seed, single-threaded training, fixed zip timestamps): running it twice
gives byte-identical files. Pinned versions (requirements.txt; checked at start):
tokenizers==0.23.3, transformers==5.23.0, sentencepiece==0.2.3.

Training text: Fixtures/generate/corpus.txt (public-domain speeches and verse) plus the script
words of tokenizer_reference.py; no downloads. Both vocabularies are small (~1,000 pieces) so
that the corpus below meets unknown characters, long words and byte fallback often.

What it writes under Fixtures/tokenizers/
-----------------------------------------
  wordpiece/tokenizer.json
                     a WordPiece vocabulary trained with `tokenizers` (BertNormalizer lowercase,
                     BertPreTokenizer, "##" continuation, max_input_chars_per_word 100, BERT's
                     [CLS] A [SEP] B [SEP] with type ids 0/1 as BertProcessing).
  wordpiece-vocab/   the same tokenizer saved by transformers' BertTokenizerFast.save_pretrained
                     and then reduced to the older layout: vocab.txt + tokenizer_config.json
                     (do_lower_case, tokenize_chinese_chars, strip_accents). The script checks
                     that transformers' BertTokenizerFast built from that folder encodes the whole
                     corpus exactly as wordpiece/tokenizer.json does, so one reference serves both.
  unigram/tokenizer.json
                     an XLM-R-shaped Unigram tokenizer: a model trained with `sentencepiece`
                     (unigram), converted as transformers' XLMRobertaConverter converts one:
                     vocab <s> <pad> </s> <unk> + pieces[3:] + <mask>, unk_id 3; normalizer
                     Sequence[Precompiled(charsmap), Strip(right), Replace(Regex(" {2,}"), "▁")];
                     Metaspace (always); TemplateProcessing <s> A </s> and <s> A </s></s> B </s>.
                     The charsmap is compiled by sentencepiece from an NFKC rule table restricted
                     to the characters that matter here (see nfkc_rules; the full nmt_nfkc map is
                     240 KB), multi-character rules (base + combining mark) included.
  reference.zip      (deflated)
      manifest.json        versions, seed, max_lengths, counts
      extra.jsonl          corpus entries beyond tokenizer_reference.py's ({"text", "pair"}):
                           long words (> max_input_chars_per_word), BERT and SentencePiece
                           specials in text, ▁, byte pieces, control characters, CJK, runs
      wordpiece.jsonl      wordpiece/tokenizer.json on every corpus entry
      unigram.jsonl        unigram/tokenizer.json on every corpus entry
      unigram-bytes/tokenizer.json
                           a variant with byte_fallback (sentencepiece's <0x00>..<0xFF> pieces),
                           Metaspace prepend_scheme "first", RobertaProcessing
      unigram-bytes.jsonl  that variant on the first VARIANT_COUNT entries and every extra entry
      unicode-classes.txt  how BertNormalizer and BertPreTokenizer class every scalar (their
                           tables are older than Swift's): "FIRST LAST CLASS" in hex, runs;
                           C = removed by clean_text, W = turned into a space, P = isolated as
                           punctuation, M = removed by strip_accents, O = none of these

The corpus is tokenizer_reference.py's (Fixtures/tokenizer/reference.zip, reference.jsonl: its
line numbers are the indices) followed by extra.jsonl. Each reference line:
  {"index": N, "ids": [...], "first": N, "trunc": {"16": [K1, K2], ...}, "tokens": [...]}
as in tokenizer_reference.py: "ids" untruncated with special tokens; "first" (pairs) the first
text's token count; "trunc" how many tokens of each text longest_first kept at each max_length
whose result differs (the truncated ids are the template around the kept prefixes: checked here
entry by entry, type ids too); "tokens" on every TOKENS_EVERY-th entry.
"""

import io
import json
import os
import random
import sys
import unicodedata
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import tokenizer_reference as base  # noqa: E402  (the shared corpus and pins)

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import sentencepiece  # noqa: E402
import tokenizers  # noqa: E402
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import BertTokenizerFast  # noqa: E402

OUT = base.FIXTURES / "tokenizers"
SEED = 20261206
VARIANT_COUNT = 600
TOKENS_EVERY = 50
MAX_CHARS_PER_WORD = 100


# --------------------------------------------------------------------------
# corpus
# --------------------------------------------------------------------------

def extra_entries():
    rng = random.Random(SEED)
    words = base.corpus_words()
    singles = [
        "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "a [MASK] b", "[CLS] hello [SEP]", "[mask]", "[ MASK ]",
        "▁", "▁▁", "a▁b", " ▁ ", "▁hello", "<0x41>", "<0xE2>", "<0x00>", "<s>▁</s>", "<unk><unk>",
        "ﬁnance ﬂow", "Ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ！", "①②③⑳", "ⅫⅣ", "x² y³", "ｶﾀｶﾅ", "㍿ ㌀", "™ ℃ №",
        "e\u0301te\u0301", "A\u030a", "n\u0303o", "o\u0308\u0304", "\u0301\u0301", "ǅ ǆ", "İ ı", "ß ẞ",
        "ΣΑΣ σας", "ΌΣΟΣ", "ﬀ", "…", "a  b   c    d", "  leading", "trailing  ", " \t \n ", "\u3000a\u3000",
        "\x00\x01\x02", "a\x07b\x1bc", "\u200b\u200c\u200d", "\ufeffBOM", "\u00adsoft\u00adhyphen",
        "你好世界中文", "中文English混合", "日本語のテキスト", "漢字かな交じり文", "𠀀𠀁𪜀", "한국어 텍스트",
        "Ĳsselmeer", "Ærøskøbing", "Crème brûlée", "naïve café résumé", "ÀÉÎÕÜ àéîõü", "Ωμέγα",
        "😀😃😄", "👍🏽👍🏿", "🇺🇸🇯🇵🇫🇷", "👨‍👩‍👧‍👦👩‍💻", "❤️🔥", "\U0001f970\U0001fae0", "🀄🃏",
        "\ue000\uf8ff", "\U000f0000", "\ufffd", "\uffff", "\U0010ffff", "\U000e0041\U000e007f",
        "¿Qué?¡Sí!", "«guillemets»", "‘quotes’ “double”", "a—b–c", "wait…", "§¶†‡", "·•",
        "don't", "DON'T", "o'clock", "e.g.", "U.S.A.", "3.14159", "1,000,000", "http://example.com/a?b=c",
    ]
    long_words = []
    for n in [99, 100, 101, 102, 150, 300]:
        long_words.append("a" * n)
        long_words.append("é" * n)
        long_words.append(("abc" * n)[:n])
    for _ in range(60):
        w = "".join(rng.choice(words).strip(".,;:!?\"'-") for _ in range(rng.randint(8, 30)))
        long_words.append(w)
        long_words.append(rng.choice(words) + " " + w + " " + rng.choice(words))
    for _ in range(20):
        pool = base.SCRIPTS[rng.choice(sorted(base.SCRIPTS))]
        long_words.append("".join(rng.choice(pool) for _ in range(rng.randint(95, 130))))
    runs = []
    for _ in range(80):
        ws = rng.choice(base.WHITESPACE) * rng.randint(1, 6)
        runs.append(ws.join(rng.choice(words) for _ in range(rng.randint(1, 4))))
    mixed = []
    for _ in range(200):
        mixed.append(base.composed(rng, words + singles, rng.choice([1, 2, 3, 4, 6])))
    pairs = [("[CLS]", "[SEP]"), ("", "▁"), ("a" * 120, "b"), ("中文", "日本語"), ("\x00", "\t")]
    for _ in range(120):
        a = base.composed(rng, words + singles, rng.choice([0, 1, 2, 3, 5, 8]))
        b = base.composed(rng, words + singles + long_words[:20], rng.choice([0, 1, 2, 3, 5, 8]))
        pairs.append((a, b))
    return [(s, None) for s in singles + long_words + runs + mixed] + pairs


# --------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------

def training_lines(entries):
    lines = [l for l in base.CORPUS_TEXT.read_text(encoding="utf-8").split("\n") if l.strip()]
    lines += base.SCRIPT_WORDS + [base.SCRIPTS[k] for k in sorted(base.SCRIPTS)]
    lines += [t for t, _ in entries[:1500:3]]
    return lines


def train_wordpiece(lines):
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=MAX_CHARS_PER_WORD))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=1000, min_frequency=2, limit_alphabet=300, show_progress=False,
        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(lines, trainer=trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.BertProcessing(("[SEP]", sep), ("[CLS]", cls))
    return tok


def nfkc_rules(entries):
    """NFKC for the scalars the corpus holds plus the usual compatibility blocks, and NFC
    compositions of base + combining mark pairs: sentencepiece's TSV rule format."""
    candidates = set()
    for text, pair in entries:
        candidates.update(text + (pair or ""))
    for first, last in [(0xA0, 0xFF), (0x2000, 0x206F), (0x2150, 0x218F), (0x2460, 0x24FF), (0x3000, 0x3003),
                        (0x3300, 0x33FF), (0xFB00, 0xFB06), (0xFF01, 0xFFEF), (0x1D400, 0x1D433)]:
        candidates.update(chr(c) for c in range(first, last + 1))
    rules = {}
    for c in sorted(candidates):
        n = unicodedata.normalize("NFKC", c)
        if n != c and not (0xD800 <= ord(c) < 0xE000):
            rules[(ord(c),)] = n
    bases = "aeiouAEIOUnNcCsSzZyY"
    marks = [chr(c) for c in range(0x300, 0x30D)] + ["\u0327", "\u0328"]
    for b in bases:
        for m in marks:
            n = unicodedata.normalize("NFKC", b + m)
            if len(n) == 1:
                rules[(ord(b), ord(m))] = n
    tsv = []
    for key in sorted(rules):
        src = " ".join(f"{c:X}" for c in key)
        dst = " ".join(f"{ord(c):X}" for c in rules[key])
        tsv.append(f"{src}\t{dst}")
    return "\n".join(tsv) + "\n", len(rules)


def protobuf_fields(data):
    """The (field, wire type, value) triples of one protobuf message (enough to read a model)."""
    i = 0

    def varint():
        nonlocal i
        value, shift = 0, 0
        while True:
            byte = data[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while i < len(data):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            value = varint()
        elif wire == 2:
            n = varint()
            value = data[i:i + n]
            i += n
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        else:
            sys.exit(f"error: protobuf wire type {wire}")
        yield field, wire, value


def precompiled_charsmap(model_bytes):
    """ModelProto.normalizer_spec (3) .precompiled_charsmap (2)."""
    for field, _, value in protobuf_fields(model_bytes):
        if field == 3:
            for inner, _, charsmap in protobuf_fields(value):
                if inner == 2:
                    return bytes(charsmap)
    sys.exit("error: the sentencepiece model has no precompiled_charsmap")


def train_sentencepiece(lines, rules_path, byte_fallback):
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=1000, model_type="unigram",
        normalization_rule_tsv=str(rules_path), byte_fallback=byte_fallback, num_threads=1,
        character_coverage=0.98, seed_sentencepiece_size=20000, minloglevel=2)
    sp = sentencepiece.SentencePieceProcessor(model_proto=model.getvalue())
    pieces = [(sp.id_to_piece(i), sp.get_score(i), sp.is_byte(i)) for i in range(sp.get_piece_size())]
    return pieces, precompiled_charsmap(model.getvalue())


def unigram_tokenizer(pieces, charsmap, byte_fallback):
    """XLMRobertaConverter's layout: fairseq's four specials first, <mask> last."""
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(p, s) for p, s, _ in pieces[3:]] + [("<mask>", 0.0)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=byte_fallback))
    tok.add_special_tokens([tokenizers.AddedToken(t, normalized=False, special=True)
                            for t in ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]])
    if byte_fallback:
        tok.normalizer = normalizers.Sequence([normalizers.Precompiled(charsmap), normalizers.Replace(" ", " ")])
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
        tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    else:
        tok.normalizer = normalizers.Sequence([
            normalizers.Precompiled(charsmap), normalizers.Strip(left=False, right=True),
            normalizers.Replace(Regex(" {2,}"), "▁")])
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return tok


# --------------------------------------------------------------------------
# references
# --------------------------------------------------------------------------

def encoder(tok):
    def encode(text, pair, max_length):
        if max_length is None:
            tok.no_truncation()
        else:
            tok.enable_truncation(max_length, strategy="longest_first")
        e = tok.encode(text, pair) if pair is not None else tok.encode(text)
        return e.ids, e.tokens, e.sequence_ids, e.type_ids

    return encode


def framed(ids, first, middle, kept_first, kept_second, pair):
    """The truncated encoding rebuilt from the untruncated one: one leading special, `middle`
    specials between the texts, one trailing special."""
    if not pair:
        return ids[: 1 + kept_first] + ids[-1:]
    second_start = 1 + first + middle
    return ids[: 1 + kept_first] + ids[1 + first: second_start] + ids[second_start: second_start + kept_second] + ids[-1:]


def expected_type_ids(count, first, middle, pair, pair_type):
    if not pair:
        return [0] * count
    head = 1 + first + (1 if pair_type else middle)
    return [0] * head + [pair_type] * (count - head)


def reference_lines(encode, entries, indices, middle, pair_type):
    lines = []
    for index in indices:
        text, pair = entries[index]
        ids, tokens, sequence_ids, type_ids = encode(text, pair, None)
        first = sum(1 for s in sequence_ids if s == 0)
        is_pair = pair is not None
        if type_ids != expected_type_ids(len(ids), first, middle, is_pair, pair_type):
            sys.exit(f"error: unexpected type ids for {text!r} / {pair!r}: {type_ids}")
        line = {"index": index, "ids": ids}
        if is_pair:
            line["first"] = first
        trunc = {}
        for n in (base.PAIR_LENGTHS if is_pair else base.SINGLE_LENGTHS):
            t_ids, _, t_sequence_ids, t_type_ids = encode(text, pair, n)
            if t_ids == ids:
                continue
            kept = [sum(1 for s in t_sequence_ids if s == 0), sum(1 for s in t_sequence_ids if s == 1)]
            if framed(ids, first, middle, kept[0], kept[1], is_pair) != t_ids:
                sys.exit(f"error: truncation of {text!r} / {pair!r} at {n} is not a prefix cut: {t_ids}")
            if t_type_ids != expected_type_ids(len(t_ids), kept[0], middle, is_pair, pair_type):
                sys.exit(f"error: unexpected truncated type ids for {text!r} / {pair!r}: {t_type_ids}")
            trunc[str(n)] = kept if is_pair else kept[:1]
        if trunc:
            line["trunc"] = trunc
        if index % TOKENS_EVERY == 0:
            line["tokens"] = tokens
        lines.append(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
    return "\n".join(lines) + "\n"


def unicode_classes():
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    bert = pre_tokenizers.BertPreTokenizer()
    runs = []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        cleaned = clean.normalize_str("a" + c + "b")
        if cleaned == "ab":
            cls = "C"
        elif cleaned == "a b" and c != " ":
            cls = "W"
        elif len(bert.pre_tokenize_str("a" + c + "b")) == 3:
            cls = "P"
        elif unicodedata.normalize("NFD", c) == c and strip.normalize_str("a" + c) == "a":
            cls = "M"
        else:
            cls = "O"
        if runs and runs[-1][2] == cls and runs[-1][1] == cp - 1:
            runs[-1][1] = cp
        else:
            runs.append([cp, cp, cls])
    return "".join(f"{a:04X} {b:04X} {c}\n" for a, b, c in runs), len(runs)


def check_vocab_layout(tok_path, vocab_dir, entries):
    """transformers' BertTokenizerFast from vocab.txt + tokenizer_config.json must encode the
    corpus as tokenizer.json does (the tokenizer lsrconv builds from that layout)."""
    from_json = encoder(Tokenizer.from_file(str(tok_path)))
    from_vocab = encoder(BertTokenizerFast.from_pretrained(str(vocab_dir)).backend_tokenizer)
    for text, pair in entries:
        for n in [None, 16]:
            if from_json(text, pair, n)[:2] != from_vocab(text, pair, n)[:2]:
                sys.exit(f"error: vocab.txt layout differs from tokenizer.json on {text!r} / {pair!r}")


def main():
    pins = base.check_versions()
    if sentencepiece.__version__ != "0.2.3":
        sys.exit(f"error: sentencepiece {sentencepiece.__version__} installed, requirements.txt pins 0.2.3")
    pins["sentencepiece"] = sentencepiece.__version__
    OUT.mkdir(parents=True, exist_ok=True)
    shared = base.build_corpus()
    extra = extra_entries()
    entries = shared + extra
    print(f"corpus: {len(shared)} shared entries + {len(extra)} extra")

    lines = training_lines(entries)
    wordpiece = train_wordpiece(lines)
    (OUT / "wordpiece").mkdir(exist_ok=True)
    wp_path = OUT / "wordpiece" / "tokenizer.json"
    wp_path.write_text(json.dumps(json.loads(wordpiece.to_str()), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    vocab_dir = OUT / "wordpiece-vocab"
    vocab_dir.mkdir(exist_ok=True)
    for stale in vocab_dir.iterdir():
        stale.unlink()
    BertTokenizerFast(tokenizer_object=Tokenizer.from_file(str(wp_path)), do_lower_case=True, model_max_length=128) \
        .save_pretrained(str(vocab_dir))
    inv = sorted(json.loads(wp_path.read_text())["model"]["vocab"].items(), key=lambda kv: kv[1])
    (vocab_dir / "vocab.txt").write_text("".join(t + "\n" for t, _ in inv), encoding="utf-8")
    for name in list(vocab_dir.iterdir()):
        if name.name not in ("vocab.txt", "tokenizer_config.json"):
            name.unlink()
    config = json.loads((vocab_dir / "tokenizer_config.json").read_text())
    config = {k: config[k] for k in sorted(config) if k in (
        "tokenizer_class", "do_lower_case", "tokenize_chinese_chars", "strip_accents", "model_max_length",
        "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")}
    config.update({"do_lower_case": True, "tokenize_chinese_chars": True, "strip_accents": None})
    base.write_json(vocab_dir / "tokenizer_config.json", config)
    check_vocab_layout(wp_path, vocab_dir, entries)
    print(f"wordpiece: {wordpiece.get_vocab_size()} pieces; vocab.txt layout agrees on {len(entries)} entries")

    rules, rule_count = nfkc_rules(entries)
    rules_path = OUT / "nfkc-rules.tsv.tmp"
    rules_path.write_text(rules, encoding="utf-8")
    # SentencePiece needs a piece for every character it covers (98%): no script alphabets.
    spm_lines = [l for l in lines if l not in base.SCRIPTS.values()]
    pieces, charsmap = train_sentencepiece(spm_lines, rules_path, byte_fallback=False)
    byte_pieces, byte_charsmap = train_sentencepiece(spm_lines, rules_path, byte_fallback=True)
    rules_path.unlink()
    print(f"sentencepiece: {len(pieces)} pieces, {len(byte_pieces)} with byte fallback; "
          f"charsmap {len(charsmap)} bytes from {rule_count} rules")
    unigram = unigram_tokenizer(pieces, charsmap, byte_fallback=False)
    (OUT / "unigram").mkdir(exist_ok=True)
    (OUT / "unigram" / "tokenizer.json").write_text(unigram.to_str() + "\n", encoding="utf-8")
    unigram_bytes = unigram_tokenizer(byte_pieces, byte_charsmap, byte_fallback=True)
    unigram_bytes_json = unigram_bytes.to_str() + "\n"

    everything = range(len(entries))
    variant = list(range(VARIANT_COUNT)) + list(range(len(shared), len(entries)))
    wp_reference = reference_lines(encoder(wordpiece), entries, everything, middle=1, pair_type=1)
    ug_reference = reference_lines(encoder(unigram), entries, everything, middle=2, pair_type=0)
    ub_reference = reference_lines(encoder(unigram_bytes), entries, variant, middle=2, pair_type=0)
    classes, run_count = unicode_classes()
    print(f"unicode classes: {run_count} runs")

    manifest = {
        "versions": pins, "seed": SEED, "single_lengths": base.SINGLE_LENGTHS, "pair_lengths": base.PAIR_LENGTHS,
        "shared_entries": len(shared), "extra_entries": len(extra),
        "references": {"wordpiece.jsonl": len(entries), "unigram.jsonl": len(entries), "unigram-bytes.jsonl": len(variant)},
    }
    members = [
        ("manifest.json", json.dumps(manifest, indent=2) + "\n"),
        ("extra.jsonl", "".join(json.dumps({"text": t, "pair": p}, ensure_ascii=False) + "\n" for t, p in extra)),
        ("wordpiece.jsonl", wp_reference),
        ("unigram.jsonl", ug_reference),
        ("unigram-bytes/tokenizer.json", unigram_bytes_json),
        ("unigram-bytes.jsonl", ub_reference),
        ("unicode-classes.txt", classes),
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members:
            info = zipfile.ZipInfo(name, date_time=base.ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, text.encode("utf-8"), compresslevel=9)
    (OUT / "reference.zip").write_bytes(buffer.getvalue())
    for name, text in members:
        print(f"  {name}: {len(text.encode('utf-8'))} bytes")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total} bytes in all; reference.zip {len(buffer.getvalue())} bytes)")


if __name__ == "__main__":
    main()
