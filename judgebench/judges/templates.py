"""Pairwise and pointwise judge prompts, selectable by name.

A local judge reads its verdict from the logits of the label tokens at the position right after
``answer_prefix`` (the assistant turn is started for the model), so a template fixes the labels
and what the answer starts with. A chat server cannot be made to start with a prefix, so the
server judge parses the reply or reads the labels from its top logprobs instead.
"""

from __future__ import annotations

from dataclasses import dataclass

_DEFAULT_SYSTEM = (
    "You are a careful judge. Compare two responses to the same user question and decide "
    "which one is better: more correct, more helpful and following the instructions."
)
_DEFAULT_USER = (
    "Question:\n{question}\n\n"
    "Response A:\n{answer_a}\n\n"
    "Response B:\n{answer_b}\n\n"
    "Which response is better? Answer with a single letter, A or B."
)

# MT-Bench "pair-v2" (Zheng et al. 2023), verbatim from lm-sys/FastChat
# (fastchat/llm_judge/data/judge_prompts.jsonl, Apache-2.0).
_MTBENCH_PAIR_V2_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two "
    "AI assistants to the user question displayed below. You should choose the assistant that "
    "follows the user's instructions and answers the user's question better. Your evaluation "
    "should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, "
    "and level of detail of their responses. Begin your evaluation by comparing the two "
    "responses and provide a short explanation. Avoid any position biases and ensure that the "
    "order in which the responses were presented does not influence your decision. Do not allow "
    "the length of the responses to influence your evaluation. Do not favor certain names of "
    "the assistants. Be as objective as possible. After providing your explanation, output your "
    "final verdict by strictly following this format: \"[[A]]\" if assistant A is better, "
    "\"[[B]]\" if assistant B is better, and \"[[C]]\" for a tie."
)
_MTBENCH_PAIR_V2_USER = (
    "[User Question]\n{question}\n\n"
    "[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n"
    "[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]"
)

_POINTWISE_SYSTEM = (
    "You are a careful judge. Rate the quality of a response to a user question on a scale "
    "from 1 (very poor) to 9 (excellent): correctness, helpfulness and following instructions."
)
_POINTWISE_USER = (
    "Question:\n{question}\n\nResponse:\n{answer}\n\n"
    "Rate the response from 1 to 9. Answer with a single digit."
)


@dataclass(frozen=True)
class PairwiseTemplate:
    """A pairwise prompt: the judge answers with ``labels[0]`` (first wins) or ``labels[1]``.

    Example:

    >>> t = PairwiseTemplate("short", "You are a judge.",
    ...                      "Q: {question} A: {answer_a} B: {answer_b}")
    >>> t.messages("2+2?", "4", "5")[1]
    {'role': 'user', 'content': 'Q: 2+2? A: 4 B: 5'}
    """

    name: str
    system: str
    user: str
    labels: tuple[str, str] = ("A", "B")
    tie_label: str | None = None
    answer_prefix: str = ""

    def messages(self, question: str, answer_a: str, answer_b: str) -> list[dict[str, str]]:
        """Chat messages for one ordered presentation (A is shown first)."""
        user = self.user.format(question=question, answer_a=answer_a, answer_b=answer_b)
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]


@dataclass(frozen=True)
class PointwiseTemplate:
    """A pointwise prompt: the judge answers with one of ``scores`` (ascending).

    Example:

    >>> t = PointwiseTemplate("rate-1-3", "Rate 1 to 3.", "Q: {question} A: {answer}",
    ...                       scores=("1", "2", "3"))
    >>> t.messages("2+2?", "4")[1]["content"], t.scores
    ('Q: 2+2? A: 4', ('1', '2', '3'))
    """

    name: str
    system: str
    user: str
    scores: tuple[str, ...] = tuple(str(i) for i in range(1, 10))
    answer_prefix: str = ""

    def messages(self, question: str, answer: str) -> list[dict[str, str]]:
        """Chat messages for rating one response."""
        user = self.user.format(question=question, answer=answer)
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]


TEMPLATES: dict[str, PairwiseTemplate | PointwiseTemplate] = {
    "default": PairwiseTemplate("default", _DEFAULT_SYSTEM, _DEFAULT_USER),
    "mtbench-pair-v2": PairwiseTemplate(
        "mtbench-pair-v2", _MTBENCH_PAIR_V2_SYSTEM, _MTBENCH_PAIR_V2_USER,
        labels=("A", "B"), tie_label="C", answer_prefix="[[",
    ),
    "pointwise-1-9": PointwiseTemplate("pointwise-1-9", _POINTWISE_SYSTEM, _POINTWISE_USER),
}


def get_template(name: str | PairwiseTemplate | PointwiseTemplate):
    """The template called ``name`` (or the template itself when one is given).

    Example:

    >>> t = get_template("mtbench-pair-v2")
    >>> t.labels, t.tie_label, t.answer_prefix, get_template(t) is t
    (('A', 'B'), 'C', '[[', True)
    """
    if isinstance(name, PairwiseTemplate | PointwiseTemplate):
        return name
    if name not in TEMPLATES:
        raise ValueError(
            f"Unknown judge template {name!r}; choose one of {sorted(TEMPLATES)} "
            "or pass a PairwiseTemplate/PointwiseTemplate."
        )
    return TEMPLATES[name]
