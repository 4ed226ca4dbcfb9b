#!/usr/bin/env python3
"""Reference encodings for lsrconv's byte-level BPE tokenizer (Sources/LSRTrain).

Run from the repository root, after generate.py has written Fixtures/tiny-roberta:

    .venv-gen/bin/python Fixtures/generate/tokenizer_reference.py

Deterministic (fixed seed, fixed zip timestamps): running it twice gives byte-identical files.
Pinned versions (requirements.txt next to this file; checked and printed at start):
tokenizers==0.23.3, transformers==5.23.0.

What it writes under Fixtures/tokenizer/
----------------------------------------
  vocab-merges/      the tiny-roberta vocabulary as vocab.json + merges.txt (the layout of the
                     original roberta-base upload), with a tokenizer_config.json asking for
                     add_prefix_space, a special_tokens_map.json giving <mask> lstrip=True (as
                     roberta-base's <mask>) and an added_tokens.json with one extra
                     non-special token. transformers' AutoTokenizer defines what this layout
                     means, so its references come from the `tokenizers` object AutoTokenizer
                     builds from it (backend_tokenizer).
  template/tokenizer.json
                     the tiny-roberta tokenizer re-dressed to exercise the other tokenizer.json
                     shapes: merges as legacy "a b" strings, a Sequence pre-tokenizer holding
                     ByteLevel(add_prefix_space=True), a TemplateProcessing post-processor
                     (type id 1 for the second sequence), and added tokens with rstrip,
                     single_word and normalized=True. References from `tokenizers` itself.
  reference.zip      (deflated; `unzip -p Fixtures/tokenizer/reference.zip reference.jsonl`)
      manifest.json        versions, counts and the max_length values used
      reference.jsonl      Fixtures/tiny-roberta/tokenizer.json on the whole corpus
      vocab-merges.jsonl   vocab-merges/ on the first VARIANT_COUNT corpus entries
      template.jsonl       template/ on the first VARIANT_COUNT corpus entries
      unknown/tokenizer.json
                           the fixture without the tokens of bytes >= 0x80 (sparse ids), with
                           unk_token, fuse_unk and ignore_merges set (see unknown_variant)
      unknown.jsonl        unknown/tokenizer.json on the first VARIANT_COUNT corpus entries
      scalar-classes.txt   how the GPT-2 pre-tokenizer regex (onig, inside tokenizers) classes
                           every Unicode scalar: "FIRST LAST CLASS" in hex, runs of equal class;
                           L = \\p{L}, N = \\p{N}, S = \\s, O = anything else.

Each reference.jsonl line is one corpus entry:
  {"text": S, "pair": S or null, "ids": [...], "first": N, "trunc": {"16": [K1, K2], ...},
   "tokens": [...]}
The variant files name the entry by its line number in reference.jsonl instead of repeating it:
  {"index": N, "ids": [...], "first": N, "trunc": {...}, "tokens": [...]}
"ids" is the encoding without truncation, special tokens included; "first" (pairs only) is how
many tokens the first text gave (special tokens excluded). "trunc" holds, for every max_length in the manifest
(SINGLE_LENGTHS or PAIR_LENGTHS) whose result differs from "ids", how many tokens of each text
truncation=longest_first kept: the truncated ids are "ids" cut by `truncated()` below, and the
script checks that this cut reproduces the ids HF returns with truncation on, entry by entry.
"tokens" is present on a deterministic sample (every TOKENS_EVERY-th entry, and every fifth
entry whose text holds an added token's content).

The script also encodes the whole corpus with transformers' AutoTokenizer on
Fixtures/tiny-roberta and stops unless it agrees with `tokenizers` everywhere (except for an
empty pair text, which AutoTokenizer drops: tokenizer("a", "") encodes "a" alone).
"""

import io
import json
import os
import random
import re
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent
SOURCE = FIXTURES / "tiny-roberta"
OUT = FIXTURES / "tokenizer"
REQUIREMENTS = HERE / "requirements.txt"
CORPUS_TEXT = HERE / "corpus.txt"

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import tokenizers  # noqa: E402
import transformers  # noqa: E402
from tokenizers import AddedToken, pre_tokenizers, processors  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

transformers.utils.logging.set_verbosity_error()

SEED = 20260523
SINGLE_LENGTHS = [3, 16, 128]
PAIR_LENGTHS = [4, 5, 7, 16, 128]
VARIANT_COUNT = 600
TOKENS_EVERY = 50
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def check_versions():
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip()] = version.strip()
    installed = {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__}
    for name, version in installed.items():
        print(f"{name} {version} (pinned {pins.get(name)})")
        if pins.get(name) != version:
            sys.exit(f"error: {name} {version} installed, requirements.txt pins {pins.get(name)}")
    return installed


# --------------------------------------------------------------------------
# corpus
# --------------------------------------------------------------------------

SCRIPTS = {
    "han": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坐集编宝谈府拉黑且随格尽剑讲布杀微怕母调局根曾准团段终乐切级克精哪官示冷域引何",
    "kana": "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲンー",
    "hangul": "가나다라마바사아자차카타파하한국어서울안녕하세요감사합니다",
    "arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "hebrew": "אבגדהוזחטיכלמנסעפצקרשת",
    "devanagari": "अआइईउऊएऐओऔकखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह",
    "devanagari_marks": "ािीुूेैोौंःँ्",
    "cyrillic": "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ",
    "greek": "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩάέήίόύώ",
    "thai": "กขฃคฅฆงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรลวศษสหฬอฮะัาำิีึืุูเแโใไๅๆ็่้๊๋์",
    "latin_ext": "àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿāăąćĉċčďđēĕėęěĝğġģĥħĩīĭįıĳĵķĸĺļľŀłńņňŉŋōŏőœŕŗřśŝşšţťŧũūŭůűųŵŷźżžſ",
    "digits_other": "٠١٢٣٤٥٦٧٨٩०१२३४५६७८९০১২৩৪৫๐๑๒๓๔๕０１２３４５６７８９ⅠⅡⅢⅣⅤⅫ½¼¾²³¹⁰₀₁₂",
}
SCRIPT_WORDS = [
    "你好", "世界", "中文", "こんにちは", "東京", "ありがとう", "カタカナ", "안녕하세요", "مرحبا",
    "بالعالم", "שלום", "עולם", "नमस्ते", "दुनिया", "สวัสดี", "ครับ", "Привет", "мир", "Γειά",
    "σου", "κόσμε", "Ελλάδα", "München", "Straße", "français", "naïve", "café", "jalapeño",
    "Ærøskøbing", "İstanbul", "Łódź", "Ελληνικά", "русский", "日本語", "한국어", "ภาษาไทย",
]
PUNCT = "!?.,;:-_()[]{}<>/\\|@#$%^&*+=~`\"'…—–‘’“”«»¿¡·•§¶†‡°"
EMOJI = [
    "😀", "😂", "🥲", "👍", "👍🏽", "👍🏿", "👋🏻", "🙏🏾", "❤️", "❤", "✨", "🔥", "🎉", "🚀", "🌍",
    "👨‍👩‍👧‍👦", "👩‍💻", "🧑🏽‍🚀", "🏳️‍🌈", "🏴‍☠️", "👁️‍🗨️", "🇺🇸", "🇯🇵", "🇫🇷", "1️⃣", "#️⃣",
    "©️", "™", "☕", "⚽", "🦄", "🫠", "🫶🏼", "🧔‍♂️", "👩🏾‍❤️‍💋‍👨🏻",
]
COMBINING = [chr(c) for c in list(range(0x0300, 0x0370)) + [0x0483, 0x0591, 0x05B0, 0x0610, 0x064B,
                                                           0x093C, 0x0941, 0x0E31, 0x20D0, 0x20E3, 0xFE0F, 0xFE20]]
WHITESPACE = [" ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2009",
              "\u200b", "\x0b", "\x0c", "\u0085", "\u2028", "\u2029", "\u1680", "\u202f", "\u205f",
              "\u180e", "\ufeff", "\u2003"]
SPECIAL_TEXT = ["<s>", "</s>", "<mask>", "<pad>", "<unk>", "<extra>", "<mas", "mask>", "</s", "<s", "< mask>",
                "<MASK>", "hello"]
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE", "'M", "'LL", "'D",
                "’s", "'x", "''s", "'"]

HANDCRAFTED = [
    "", " ", "  ", "   ", "\t", "\n", "\r\n", "\r", " \n ", "\n\n\n", "a\r\nb", "a\n\nb", "a \n b",
    "hello", "hello world", "Hello World", " hello", "  hello", "hello ", "hello   ", "hello \n",
    "hello\t\tworld", "hello \t world", "a  b", "a   b", "a    b", "a \u00a0b", "a\u00a0\u00a0b",
    "a\u3000b", "a \u3000 b", "\u3000", "\u00a0", " \u00a0", "\u00a0 ", "a\u2009b", "a\u200bb",
    "a\u0085b", "a\u2028b", "a\u1680b", "a\u180eb", "a\ufeffb", "\x0b\x0c", "a\x0bb", "a\x1cb",
    "I'm", "it's", "IT'S", "It'S", "we'll", "they're", "you've", "he'd", "don't", "DON'T", "'s",
    "''s", "x's's", "' s", "’s", "it’s", "rock'n'roll", "'tis", "'re'", " 's", "a 's", "o'clock",
    "12345", "3.14159", "1,000,000", "2024-01-01", "v1.2.3", "0x1F", "٣٤٥", "१२३", "Ⅻ", "½", "x²",
    "①②③", "１２３", "!!!", "...", "?!?", "--", "—", "(a)", "[x]{y}", "@#$%^&*", "a.b.c", "#hashtag",
    "@user", "http://example.com/a?b=c&d=e", "foo@bar.com", "C++", "e.g.", "U.S.A.",
    "😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸🇯🇵", "1️⃣", "a😀b", " 😀 ", "😀😀😀",
    "e\u0301", "cafe\u0301", "n\u0303", "a\u0300\u0301\u0302\u0303", "Z\u0351\u036b\u0343\u036a\u0302",
    "\u0301", " \u0301", "\u0301a", "한국어", "\u1100\u1161\u11a8", "你好，世界", "こんにちは世界",
    "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีครับ", "Привет, мир!", "Γειά σου Κόσμε",
    "<s>", "</s>", "<mask>", "<pad>", "<unk>", "a<mask>b", "a <mask> b", "a  <mask>  b", "<mask><mask>",
    "< mask>", "<s</s>>", "<<s>>", "<ma<mask>sk>", "<s> hello </s>", "hello<s>", "\t<mask>\n",
    "\u00a0<mask>", "<mask>\u00a0", "<extra>", "a <extra> b", "a<extra>b", "hello", "hello there",
    "say hello", "ahello", "hellob", "_hello", "hello_", "hello.", ".hello", "<extra>hello",
    "\x00", "\x01", "\x7f", "a\x00b", "\ue000", "\uffff", "\U0010ffff", "\U000e0041", "\ufe0f",
    "\u00ad", "\u200d", "\u200c", "Ġ", "Ċ", "ĠĠ", "Ġhello", "\u0120\u010a", "ÿ", "ā", "ſ",
    "The quick brown fox jumps over the lazy dog.", "Four score and seven years ago",
    "We hold these truths to be self-evident, that all men are created equal",
    "In the beginning God created the heaven and the earth.",
    "Shall I compare thee to a summer's day?",
]


def corpus_words():
    text = CORPUS_TEXT.read_text(encoding="utf-8")
    return re.findall(r"\S+", text)


def piece(rng, words):
    kind = rng.random()
    if kind < 0.40:
        w = rng.choice(words)
        r = rng.random()
        return w.lower() if r < 0.2 else w.upper() if r < 0.3 else w.title() if r < 0.35 else w
    if kind < 0.50:
        return rng.choice(SCRIPT_WORDS)
    if kind < 0.58:
        pool = SCRIPTS[rng.choice(sorted(SCRIPTS))]
        s = "".join(rng.choice(pool) for _ in range(rng.randint(1, 8)))
        return s
    if kind < 0.63:
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 12)))
        if rng.random() < 0.3:
            cut = rng.randint(0, len(digits))
            digits = digits[:cut] + rng.choice(".,:/-") + digits[cut:]
        return digits
    if kind < 0.69:
        return "".join(rng.choice(PUNCT) for _ in range(rng.randint(1, 5)))
    if kind < 0.75:
        e = rng.choice(EMOJI)
        return e * rng.randint(1, 2) if rng.random() < 0.2 else e
    if kind < 0.80:
        base = rng.choice("aeiouAEIOUnxz" + SCRIPTS["cyrillic"][:5] + SCRIPTS["devanagari"][:5])
        return base + "".join(rng.choice(COMBINING) for _ in range(rng.randint(1, 3)))
    if kind < 0.87:
        w = rng.choice(words).strip(".,;:!?\"'")
        return (w or "it") + rng.choice(CONTRACTIONS)
    if kind < 0.93:
        return rng.choice(SPECIAL_TEXT)
    return rng.choice(WHITESPACE)


def separator(rng):
    r = rng.random()
    if r < 0.70:
        return " "
    if r < 0.82:
        return ""
    return rng.choice(WHITESPACE)


def composed(rng, words, count):
    s = "".join(piece(rng, words) + separator(rng) for _ in range(count))
    if rng.random() < 0.5:
        s = s.rstrip(" ")
    if rng.random() < 0.1:
        s = rng.choice(WHITESPACE) + s
    return s


def random_scalars(rng):
    out = []
    for _ in range(rng.randint(1, 6)):
        r = rng.random()
        if r < 0.5:
            cp = rng.randint(0x80, 0xFFFF)
        elif r < 0.8:
            cp = rng.randint(0x10000, 0x10FFFF)
        else:
            cp = rng.randint(0x00, 0x7F)
        if 0xD800 <= cp < 0xE000:
            cp = 0xFFFD
        out.append(chr(cp))
    return "".join(out)


def build_corpus():
    rng = random.Random(SEED)
    words = corpus_words()
    singles = list(HANDCRAFTED)
    for _ in range(3720):
        singles.append(composed(rng, words, rng.choice([1, 1, 1, 2, 2, 3, 3, 4, 5, 6, 8])))
    for _ in range(300):
        singles.append(random_scalars(rng))
    for _ in range(40):
        singles.append(composed(rng, words, rng.randint(35, 50)))
    seen = set()
    entries = []
    for s in singles:
        if s not in seen:
            seen.add(s)
            entries.append((s, None))
    pairs = [("", ""), ("a", ""), ("", "b"), ("hello", "world"), ("<mask>", "<s>"), (" ", " ")]
    for _ in range(1000):
        a = composed(rng, words, rng.choice([0, 1, 1, 2, 2, 3, 3, 4, 6, 10, 16]))
        b = composed(rng, words, rng.choice([0, 1, 1, 2, 2, 3, 3, 4, 6, 10, 16]))
        pairs.append((a, b))
    for p in pairs:
        if p not in seen:
            seen.add(p)
            entries.append(p)
    # Interleave so that the variant subset (the first VARIANT_COUNT entries) has pairs too.
    singles_only = [e for e in entries if e[1] is None]
    pair_only = [e for e in entries if e[1] is not None]
    mixed = []
    while singles_only or pair_only:
        mixed.extend(singles_only[:3])
        del singles_only[:3]
        mixed.extend(pair_only[:1])
        del pair_only[:1]
    return mixed


# --------------------------------------------------------------------------
# encoders
# --------------------------------------------------------------------------

def tokenizers_encoder(path):
    tok = tokenizers.Tokenizer.from_file(str(path))

    def encode(text, pair, max_length):
        if max_length is None:
            tok.no_truncation()
        else:
            tok.enable_truncation(max_length, strategy="longest_first")
        e = tok.encode(text, pair) if pair is not None else tok.encode(text)
        return e.ids, e.tokens, e.sequence_ids

    return encode


def tokenizers_encoder_from_str(text):
    tok = tokenizers.Tokenizer.from_str(text)

    def encode(text, pair, max_length):
        if max_length is None:
            tok.no_truncation()
        else:
            tok.enable_truncation(max_length, strategy="longest_first")
        e = tok.encode(text, pair) if pair is not None else tok.encode(text)
        return e.ids, e.tokens, e.sequence_ids

    return encode


def transformers_encoder(path):
    """AutoTokenizer's own call. Note: it treats an empty pair text ("") as no pair at all."""
    tok = AutoTokenizer.from_pretrained(str(path))

    def encode(text, pair, max_length):
        kwargs = {"truncation": "longest_first", "max_length": max_length} if max_length else {}
        ids = tok(text, pair, **kwargs)["input_ids"] if pair is not None else tok(text, **kwargs)["input_ids"]
        return ids, tok.convert_ids_to_tokens(ids)

    return encode


def transformers_backend_encoder(path):
    """The `tokenizers` object AutoTokenizer builds from a directory, called directly, so that an
    empty pair stays a pair (as `Tokenizer.encode(text, pair: "")` in lsrconv)."""
    backend = AutoTokenizer.from_pretrained(str(path)).backend_tokenizer

    def encode(text, pair, max_length):
        if max_length is None:
            backend.no_truncation()
        else:
            backend.enable_truncation(max_length, strategy="longest_first")
        e = backend.encode(text, pair) if pair is not None else backend.encode(text)
        return e.ids, e.tokens, e.sequence_ids

    return encode


def content_length(ids, type_or_sequence_ids):
    return sum(1 for s in type_or_sequence_ids if s == 0)


def truncated(ids, first, kept_first, kept_second=None):
    """HF's truncated encoding rebuilt from the untruncated one by slicing only: the specials
    around the kept prefixes of both contents (`first` = length of the first content)."""
    if kept_second is None:
        return ids[: 1 + kept_first] + ids[-1:]
    return ids[: 1 + kept_first] + ids[1 + first : 3 + first] + ids[3 + first : 3 + first + kept_second] + ids[-1:]


def reference_lines(encode, entries, added, with_text=True):
    lines = []
    for index, (text, pair) in enumerate(entries):
        ids, tokens, sequence_ids = encode(text, pair, None)
        first = content_length(ids, sequence_ids)
        line = {"text": text, "pair": pair} if with_text else {"index": index}
        line["ids"] = ids
        if pair is not None:
            line["first"] = first
        trunc = {}
        for n in (PAIR_LENGTHS if pair is not None else SINGLE_LENGTHS):
            t_ids, _, t_sequence_ids = encode(text, pair, n)
            if t_ids == ids:
                continue
            kept = [content_length(t_ids, t_sequence_ids)]
            if pair is not None:
                kept.append(sum(1 for s in t_sequence_ids if s == 1))
            if truncated(ids, first, *kept) != t_ids:
                sys.exit(f"error: truncation of {text!r} / {pair!r} at {n} is not a prefix cut: {t_ids}")
            trunc[str(n)] = kept
        if trunc:
            line["trunc"] = trunc
        has_added = any(a in text or a in (pair or "") for a in added)
        if index % TOKENS_EVERY == 0 or (has_added and index % 5 == 0):
            line["tokens"] = tokens
        lines.append(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# variant tokenizer directories
# --------------------------------------------------------------------------

def write_json(path, value, indent=2):
    path.write_text(json.dumps(value, ensure_ascii=False, indent=indent) + "\n", encoding="utf-8")


def write_vocab_merges(state):
    out = OUT / "vocab-merges"
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.iterdir():
        stale.unlink()
    vocab = state["model"]["vocab"]
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False) + "\n", encoding="utf-8")
    with open(out / "merges.txt", "w", encoding="utf-8", newline="\n") as f:
        f.write("#version: 0.2\n")
        for a, b in state["model"]["merges"]:
            f.write(f"{a} {b}\n")
    write_json(out / "tokenizer_config.json", {
        "tokenizer_class": "RobertaTokenizer", "add_prefix_space": True, "model_max_length": 128,
    })
    write_json(out / "special_tokens_map.json", {
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
        "pad_token": "<pad>", "cls_token": "<s>",
        "mask_token": {"content": "<mask>", "single_word": False, "lstrip": True, "rstrip": False,
                       "normalized": False},
    })
    write_json(out / "added_tokens.json", {"<extra>": len(vocab)})
    return out


def write_template(state):
    out = OUT / "template"
    out.mkdir(parents=True, exist_ok=True)
    tok = tokenizers.Tokenizer.from_str(json.dumps(state))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.ByteLevel(add_prefix_space=True)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s>:1 $B:1 </s>:1", special_tokens=[("<s>", 0), ("</s>", 2)])
    tok.add_tokens([
        AddedToken("<extra>", rstrip=True, normalized=True, special=False),
        AddedToken("hello", single_word=True, normalized=False, special=False),
    ])
    state = json.loads(tok.to_str())
    state["model"]["merges"] = [f"{a} {b}" for a, b in state["model"]["merges"]]
    path = out / "tokenizer.json"
    path.write_text(json.dumps(state, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    return path


def bytes_to_unicode():
    """GPT-2's byte → printable character map (openai/gpt-2 encoder.py)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def unknown_variant(state):
    """The fixture without any token holding a byte >= 0x80 (ids kept, so they are sparse), with
    unk_token <unk>, fuse_unk and ignore_merges on: every non-ASCII character becomes <unk>."""
    high = {c for b, c in bytes_to_unicode().items() if b >= 0x80}
    state = json.loads(json.dumps(state))
    model = state["model"]
    model["vocab"] = {t: i for t, i in model["vocab"].items() if not (set(t) & high)}
    model["merges"] = [[a, b] for a, b in model["merges"]
                       if a in model["vocab"] and b in model["vocab"] and a + b in model["vocab"]]
    model["unk_token"] = "<unk>"
    model["fuse_unk"] = True
    model["ignore_merges"] = True
    return json.dumps(state, ensure_ascii=False, separators=(",", ":")) + "\n"


# --------------------------------------------------------------------------
# scalar classes of the pre-tokenizer regex
# --------------------------------------------------------------------------

def scalar_classes():
    """Classes every scalar by how ByteLevel's regex splits "a" c "1" c "!" (offsets in chars)."""
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    signatures = {
        ((0, 2), (2, 3), (3, 4), (4, 5)): "L",
        ((0, 1), (1, 4), (4, 5)): "N",
        ((0, 1), (1, 2), (2, 3), (3, 5)): "O",
        ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5)): "S",
    }
    runs = []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        if c == " ":
            cls = "S"  # the regex's " ?" prefix makes the probe ambiguous for U+0020 itself
        else:
            signature = tuple(o for _, o in byte_level.pre_tokenize_str("a" + c + "1" + c + "!"))
            cls = signatures.get(signature)
            if cls is None:
                sys.exit(f"error: U+{cp:04X} splits as {signature}, no known class")
        if runs and runs[-1][2] == cls and runs[-1][1] == cp - 1:
            runs[-1][1] = cp
        else:
            runs.append([cp, cp, cls])
    return "".join(f"{a:04X} {b:04X} {c}\n" for a, b, c in runs), len(runs)


# --------------------------------------------------------------------------

def main():
    versions = check_versions()
    OUT.mkdir(parents=True, exist_ok=True)
    entries = build_corpus()
    pair_count = sum(1 for _, p in entries if p is not None)
    print(f"corpus: {len(entries)} entries ({len(entries) - pair_count} single, {pair_count} pairs)")

    fixture = tokenizers_encoder(SOURCE / "tokenizer.json")
    reference = reference_lines(fixture, entries, SPECIAL_TEXT[:5])

    # transformers must agree with tokenizers on the fixture directory (except for an empty
    # pair, which AutoTokenizer drops).
    auto = transformers_encoder(SOURCE)
    disagreements = 0
    for text, pair in entries:
        if pair == "":
            continue
        for n in [None] + (PAIR_LENGTHS if pair is not None else SINGLE_LENGTHS):
            if fixture(text, pair, n)[0] != auto(text, pair, n)[0]:
                disagreements += 1
                if disagreements <= 3:
                    print(f"  transformers differs: {text!r} {pair!r} max_length={n}")
    print(f"transformers vs tokenizers on tiny-roberta: {disagreements} disagreements")
    if disagreements:
        sys.exit("error: AutoTokenizer and tokenizers disagree on the fixture")

    state = json.loads(tokenizers.Tokenizer.from_file(str(SOURCE / "tokenizer.json")).to_str())
    vm_dir = write_vocab_merges(state)
    vm_reference = reference_lines(
        transformers_backend_encoder(vm_dir), entries[:VARIANT_COUNT], ["<mask>", "<extra>"], with_text=False)
    template_path = write_template(state)
    template_reference = reference_lines(
        tokenizers_encoder(template_path), entries[:VARIANT_COUNT], ["<extra>", "hello"], with_text=False)

    unknown_json = unknown_variant(state)
    unknown_reference = reference_lines(
        tokenizers_encoder_from_str(unknown_json), entries[:VARIANT_COUNT], ["<unk>"], with_text=False)

    classes, run_count = scalar_classes()
    print(f"scalar classes: {run_count} runs")

    manifest = {
        "versions": versions,
        "seed": SEED,
        "single_lengths": SINGLE_LENGTHS,
        "pair_lengths": PAIR_LENGTHS,
        "entries": {"reference.jsonl": len(entries), "vocab-merges.jsonl": VARIANT_COUNT,
                    "template.jsonl": VARIANT_COUNT, "unknown.jsonl": VARIANT_COUNT},
        "singles": len(entries) - pair_count,
        "pairs": pair_count,
    }
    members = [
        ("manifest.json", json.dumps(manifest, indent=2) + "\n"),
        ("reference.jsonl", reference),
        ("vocab-merges.jsonl", vm_reference),
        ("template.jsonl", template_reference),
        ("unknown/tokenizer.json", unknown_json),
        ("unknown.jsonl", unknown_reference),
        ("scalar-classes.txt", classes),
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
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
