"""Views of text with offsets: token joining, tokenization, sentence splitting, chunking.

Nothing here changes the text; every function returns (start, end) offsets into it.
"""

from __future__ import annotations

from typing import Sequence

from bioner.doc import Offsets

# The joining rule for token-based formats (IOB, nested JSON lines, GENIA tokens):
# tokens of a sentence are joined by one space, sentences by one newline. So a
# document rebuilt from tokens has token i of sentence j at a known offset, and
# whitespace tokenization of the rebuilt text gives the tokens back.
TOKEN_SEP = " "
SENTENCE_SEP = "\n"


def join_tokens(sentences: Sequence[Sequence[str]]) -> tuple[str, list[Offsets], list[list[Offsets]]]:
    """Rebuild text from tokenized sentences.

    Returns the text, the offsets of each sentence, and the offsets of each token per
    sentence. Tokens must not contain whitespace (a reader checks this and reports the
    line), so the rule stays reversible.
    """
    parts: list[str] = []
    sent_offsets: list[Offsets] = []
    tok_offsets: list[list[Offsets]] = []
    pos = 0
    for j, sent in enumerate(sentences):
        if j:
            parts.append(SENTENCE_SEP)
            pos += len(SENTENCE_SEP)
        start = pos
        toks: list[Offsets] = []
        for i, tok in enumerate(sent):
            if i:
                parts.append(TOKEN_SEP)
                pos += len(TOKEN_SEP)
            parts.append(tok)
            toks.append((pos, pos + len(tok)))
            pos += len(tok)
        sent_offsets.append((start, pos))
        tok_offsets.append(toks)
    return "".join(parts), sent_offsets, tok_offsets
