"""A checkpoint's own tokenizer (tokenizer.json, else tokenizer.model) as GGUF ``tokenizer.*``
fields.

Gemma 3 and Gemma 4 ship a SentencePiece BPE vocabulary of 262,144 pieces, saved by transformers
as a tokenizers BPE model with byte fallback. llama.cpp reads it two ways:

- ``llama`` (SentencePiece): tokens, scores and token types. The bundled Gemma 3 GGUF stores the
  ordinary pieces with scores falling by one per piece in id order (llama.cpp merges the pair whose
  piece scores highest, so only the order matters), the 256 ``<0xXX>`` byte pieces with 0, and
  control and user-defined pieces with -1000. tokenizer.json has no scores; the rank gives them.
  Written for Gemma 3.
- ``gemma4`` (BPE over UTF-8 characters, spaces escaped to U+2581, splits only at newline runs):
  the same lists plus the merges. Written for Gemma 4, as llama.cpp's own converter does.

A SentencePiece tokenizer.model brings its own scores and piece types (read with the sentencepiece
package's protobuf schema; the ``convert`` extra installs it). Special token ids, add_bos/add_eos
and the chat template come from tokenizer_config.json and config.json through gguf's SpecialVocab.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import gguf

from quantize.errors import BadInput

T = gguf.TokenType
_BYTE = re.compile(r"<0x[0-9A-Fa-f]{2}>")
SPECIAL_SCORE = -1000.0
TOKENIZER_MODEL = {"gemma3": "llama", "gemma4": "gemma4"}


@dataclass
class HfVocab:
    tokens: list[str]
    scores: list[float]
    types: list[int]
    merges: list[str] = field(default_factory=list)
    source: str = ""


def has_tokenizer(folder: Path) -> bool:
    return (folder / "tokenizer.json").is_file() or (folder / "tokenizer.model").is_file()


def read_tokenizer(folder: Path) -> HfVocab:
    """tokenizer.json when there is one (it has the merges), else tokenizer.model."""
    if (folder / "tokenizer.json").is_file():
        return read_tokenizer_json(folder)
    return read_tokenizer_model(folder)


def read_tokenizer_model(folder: Path) -> HfVocab:
    path = folder / "tokenizer.model"
    try:
        from google.protobuf.message import DecodeError
        from sentencepiece import sentencepiece_model_pb2
    except ImportError:
        raise BadInput(f"{folder} has only tokenizer.model, and reading it needs the sentencepiece and protobuf "
                       "packages: pip install 'gemma-lsp[convert]', or pass --vocab-from FILE.gguf.") from None
    proto = sentencepiece_model_pb2.ModelProto()
    try:
        proto.ParseFromString(path.read_bytes())
    except DecodeError as exc:
        raise BadInput(f"{path} is not a SentencePiece model ({exc}). Pass --vocab-from FILE.gguf.") from None
    # SentencePiece's piece types are numbered as gguf's TokenType (NORMAL 1 ... BYTE 6).
    pieces = list(proto.pieces)
    return HfVocab([p.piece for p in pieces], [p.score for p in pieces], [int(p.type) for p in pieces],
                   source=str(path))


def read_tokenizer_json(folder: Path) -> HfVocab:
    path = folder / "tokenizer.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        model = data["model"]
    except (OSError, ValueError, KeyError) as exc:
        raise BadInput(f"Cannot read {path}: {exc}. Pass --vocab-from FILE.gguf to take the tokenizer "
                       "from a GGUF of the same model family instead.") from None
    if model.get("type") not in ("BPE", "Unigram"):
        raise BadInput(f"{path} holds a {model.get('type')!r} tokenizer; Gemma's is BPE (or Unigram). "
                       "Pass --vocab-from FILE.gguf.")
    pieces, unigram_scores = _model_pieces(model)
    added = {int(t["id"]): t for t in data.get("added_tokens", [])}
    n = max([*pieces, *added], default=-1) + 1
    tokens, types = [f"[PAD{i}]" for i in range(n)], [int(T.UNUSED)] * n
    for i, piece in pieces.items():
        tokens[i], types[i] = piece, int(T.BYTE if _BYTE.fullmatch(piece) else T.NORMAL)
    for i, tok in added.items():
        tokens[i], types[i] = tok["content"], int(T.CONTROL if tok.get("special") else T.USER_DEFINED)
    scores = _scores(types, unigram_scores)
    merges = _merges(model.get("merges") or [])
    return HfVocab(tokens, scores, types, merges, source=str(path))


def _model_pieces(model: dict) -> tuple[dict[int, str], dict[int, float]]:
    if model["type"] == "BPE":
        return {int(i): p for p, i in model["vocab"].items()}, {}
    pieces = {i: p for i, (p, _) in enumerate(model["vocab"])}
    return pieces, {i: float(s) for i, (_, s) in enumerate(model["vocab"])}


def _scores(types: list[int], unigram: dict[int, float]) -> list[float]:
    """SentencePiece BPE keeps its pieces best first, so an ordinary piece's score is minus its
    rank among ordinary pieces (the bundled GGUF's fall in the same order); a Unigram model brings
    its own."""
    scores, rank = [], 0
    for i, kind in enumerate(types):
        if kind == T.NORMAL:
            scores.append(unigram.get(i, float(-rank)))
            rank += 1
        else:
            scores.append(0.0 if kind == T.BYTE else SPECIAL_SCORE)
    return scores


def _merges(raw: list) -> list[str]:
    """tokenizers writes merges as "a b" strings or, since 2024, as [a, b] pairs."""
    return [m if isinstance(m, str) else f"{m[0]} {m[1]}" for m in raw]


def spm_merges(tokens: list[str], types: list[int]) -> list[str]:
    """The BPE merges a SentencePiece BPE vocabulary implies (as transformers derives them): every
    split of an ordinary piece into two ordinary pieces, ranked by the merged piece's id, then by
    the parts' ids."""
    ids = {t: i for i, t in enumerate(tokens) if types[i] == T.NORMAL}
    found = []
    for piece, pid in ids.items():
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in ids and right in ids:
                found.append((pid, ids[left], ids[right], f"{left} {right}"))
    found.sort()
    return [m[3] for m in found]


def add_vocab(writer: gguf.GGUFWriter, vocab: HfVocab, folder: Path, arch: str, n_vocab: int) -> int:
    """Write the tokenizer for arch (gemma3: SentencePiece lists; gemma4: with merges); returns
    the vocabulary size written (padded with unused pieces up to the embedding's rows)."""
    extra = n_vocab - len(vocab.tokens)
    if extra < 0:
        raise BadInput(f"{vocab.source} has {len(vocab.tokens)} tokens but the model has {n_vocab} embedding "
                       "rows: is this the checkpoint's own tokenizer? Pass --vocab-from FILE.gguf otherwise.")
    model = TOKENIZER_MODEL[arch]
    if model == "gemma4" and not vocab.merges:
        vocab.merges = spm_merges(vocab.tokens, vocab.types)
    writer.add_tokenizer_model(model)
    if model == "llama":
        writer.add_tokenizer_pre("default")
    writer.add_token_list(vocab.tokens + [f"<unused_pad_{i}>" for i in range(extra)])
    writer.add_token_scores(vocab.scores + [0.0] * extra)
    writer.add_token_types(vocab.types + [int(T.UNUSED)] * extra)
    if model == "gemma4":
        writer.add_token_merges(vocab.merges)
    _add_special(writer, folder, vocab)
    return n_vocab


def _add_special(writer: gguf.GGUFWriter, folder: Path, vocab: HfVocab) -> None:
    special = gguf.SpecialVocab(folder, load_merges=False, n_vocab=len(vocab.tokens))
    ids = {t: i for i, t in enumerate(vocab.tokens)}
    for typ, text in (("bos", "<bos>"), ("eos", "<eos>"), ("unk", "<unk>"), ("pad", "<pad>")):
        if typ not in special.special_token_ids and text in ids:  # Gemma's names, when no config says
            special.special_token_ids[typ] = ids[text]
    special.add_special_token.setdefault("bos", True)  # Gemma always starts with <bos>
    special.add_special_token.setdefault("eos", False)
    special.add_to_gguf(writer, quiet=True)
    writer.add_add_space_prefix(False)
