"""Every weight and threshold of retrieval, answering, abstention and verification, in one
documented object. Values were chosen on the `dev` question split (eval/sets/dev.jsonl) and are
judged on `test`; a value's name says what it measures. Load other values from a JSON file with
`Tuning.load(path)` (or RAG_TUNING=path) to try them without editing code."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import RagError


def _per_lang(zh: Any, en: Any) -> Any:
    return field(default_factory=lambda: {"zh": zh, "en": en})


@dataclass(frozen=True)
class Tuning:
    # ---- retrieval: weighted reciprocal-rank fusion of the legs (rag/legs.py)
    rrf_k: int = 20  # RRF constant: score += weight / (rrf_k + rank)
    # Leg weights per question language. English questions: BM25 on Chinese tokens finds little,
    # the cross-lingual USE legs and the bridged BM25 carry them.
    leg_weights: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "zh": {"dense": 1.0, "bm25": 1.0, "use": 0.0, "sent": 1.0, "bm25x": 0.0},
            "en": {"dense": 1.0, "bm25": 0.5, "use": 1.0, "sent": 0.0, "bm25x": 1.0},
        }
    )
    # Per library leg: past this rank a chunk adds nothing to the fusion; candidate legs (the
    # per-sentence one) score only the union of these lists.
    dense_candidates: int = 1000
    # Question languages whose legs rank same-language and other-language chunks in separate pools,
    # so an English abstract does not win on language alone; and how many such chunks may enter top k.
    pooled_languages: tuple[str, ...] = ("en",)
    max_same_language_chunks: int = 2
    candidate_factor: int = 3  # fused candidates looked at per wanted hit (copies are collapsed)

    # ---- questions of several parts ("哪一年开始设立的？广西有哪些地方获批？", rag/converse.py)
    max_question_parts: int = 3  # up to this many joined questions are searched and answered one by one
    min_part_letters: int = 4  # a shorter part ("为什么？") is searched together with the part before

    # ---- English -> Chinese word bridge (USE nearest neighbours in the index vocabulary)
    bridge_min_similarity: float = 0.6  # a Chinese token this close to an English word is its term
    bridge_terms_per_word: int = 2
    name_bridge_min_similarity: float = 0.65  # a name's Chinese form must be at least this close

    # ---- sentence scoring (rag/evidence.py): USE similarity + weights x features
    coverage_weight: float = 0.45  # x idf-weighted share of the question's terms in the sentence
    prior_weight: float = 0.3  # x the chunk's fused score relative to the best chunk
    figure_bonus: float = 0.05  # a quantity question and a sentence with a number
    restate_penalty: float = 1.0  # the sentence only restates the question (e.g. a list item asked about)
    fragment_chars: int = 12  # sentences shorter than this are fragments ...
    fragment_penalty: float = 0.2  # ... and lose this much
    top_heading_penalty: float = 0.5  # "4. 存在的问题" restates a question, it does not answer it
    sub_heading_penalty: float = 0.3  # a sub-heading answers only a list question
    same_language_abstract_penalty: float = 0.3  # English sentence for an English question (language match)
    meta_sentence_penalty: float = 0.1  # "本文通过…" describes the paper, rarely the fact asked for
    answer_cue_bonus: float = 0.1  # a definition/consequence/why question and a sentence with its cue
    other_year_penalty: float = 0.3  # the sentence's years and the question's years are disjoint

    # ---- choosing the answer sentences (rag/answer.py)
    several_answer_shapes: tuple[str, ...] = ("list", "consequence", "cause")  # answered like lists
    list_max_sentences: int = 5
    # list answers take sentences scoring >= this x the best (dev: 0.78 -> 0.74 gave accuracy +0.010 for
    # answers 8 % longer; 0.70 another +0.005 for another 6 %)
    list_min_ratio: float = 0.74
    plain_max_sentences: int = 3
    plain_min_ratio: float = 0.88
    other_paper_min_ratio: float = (
        0.98  # a second paper is quoted when nearly as good (dev: 0.95 -> 0.98, citation precision 0.948 -> 0.959)
    )
    figure_search_depth: int = 8  # a how-many answer without a figure takes one from this many
    max_list_items: int = 8  # sub-headings quoted for an outline list
    multi_paper_min_ratio: float = 0.85  # "what do the papers say": each other paper's best sentence, if this good
    figures_from_every_paper: bool = True  # a how-many answer also quotes other papers' own figures
    enumeration_extra_items: int = 3  # items an enumeration may add past the list limit
    item_body_sentences: int = 3  # "the second one?": the item's sentence and at most this many that follow it
    enumeration_gap: int = 4  # sentences an enumeration's item may run to before the next item ("(1) …。…。(2) …")
    facet_search_depth: int = 12  # best sentences searched for a year or a question part no chosen sentence answers
    facet_min_coverage: float = 0.5  # share of a question part's idf-weighted terms a sentence must hold to answer it
    evidence_pool: int = 8  # chunks whose sentences may be quoted (when more than the k shown); the decision uses k

    # ---- abstention (rag/abstain.py): a logistic model over named features, fitted on dev
    # (`python -m eval.calibrate`, balanced logistic regression; 277 dev questions, 71 unanswerable,
    # 18 of the answerable ones paraphrased away from the papers' words;
    # the threshold is chosen on cross-validated probabilities so it holds on unseen questions);
    # the question is declined when P(unanswerable) >= abstain_threshold.
    abstention_weights: dict[str, float] = field(
        default_factory=lambda: {
            "bias": 0.9437,
            "similarity": -0.9823,
            "best_sentence": -2.2316,
            "low_similarity": 1.493,
            "unknown_name": 2.8602,
            "unknown_year": 0.781,
            "missing_figure": 2.4452,
            "unmatched_terms": 1.1942,
            "name_off_evidence": 1.9592,
            "best_coverage": -0.1799,
            "unknown_figure": 1.5194,
            "short_question": 0.6928,
            "any_unmatched": 0.5882,
            "unmatched_nouns": 0.9317,
        }
    )
    # read an English question's words through CC-CEDICT for unmatched_nouns (refit on dev with it: cross-validated
    # abstention 0.704 at false abstention 0.029, as without; in-sample English abstention 0.741 -> 0.815)
    english_dictionary_terms: bool = True
    abstain_threshold: float = 0.5837  # false abstention <= 0.03 on dev, out of fold (5-fold CV)
    min_similarity: dict[str, float] = _per_lang(0.25, 0.17)  # below: "low_similarity" feature
    how_many_evidence_depth: int = 6  # best sentences searched for the figure a how-many question needs
    figure_min_term_coverage: float = 0.0  # share of the question's terms a figure's sentence must hold
    short_question_chars: int = 3  # questions with at most this many letters say too little
    name_evidence_depth: int = 3  # best sentences that must name what the question names
    year_context_chars: int = 80  # a figure's year may stand this many characters before its sentence

    # ---- citation verification (rag/verify.py, bench/calibrate_verify.py)
    verify_min_term_coverage: float = 0.6
    verify_min_cross_similarity: float = 0.30

    @classmethod
    def load(cls, path: Path | str | None = None) -> Tuning:
        """Defaults, with any fields given in the JSON file at `path` replaced."""
        if path is None or str(path) == "":
            return cls()
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RagError(
                f"Cannot read tuning values from {path} ({exc}); fix the file or unset RAG_TUNING."
            ) from None
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known) if isinstance(data, dict) else ["<not a JSON object>"]
        if unknown:
            raise RagError(f"{path}: unknown tuning values {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
        data = {k: tuple(v) if isinstance(getattr(cls(), k), tuple) else v for k, v in data.items()}
        return replace(cls(), **data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
