"""The prompts of the generated answers, as plain text in one place (Chinese and English).

Placeholders are `{name}` fields filled by LangChain's ChatPromptTemplate; the texts contain no
other braces. The abstention phrases are the extractive answerer's (rag.answer.ABSTAIN), so an
abstention reads the same whichever backend wrote it.
"""

from __future__ import annotations

from .answer import ABSTAIN

SYSTEM = {
    "zh": (
        "你是一个学术论文问答助手。只能根据下面编号的论文段落回答问题，不要使用段落以外的任何知识。\n"
        "规则：\n"
        "1. 每一句话的末尾都要用方括号标出它所依据的段落编号，例如 [1] 或 [2][3]；只能使用给出的编号。\n"
        "2. 数字、百分比、年份、人名、机构名和政策名称必须与段落原文完全一致，不要换算、估计或改写。\n"
        "3. 用中文回答，简洁，不超过五句话。\n"
        f"4. 如果这些段落不能回答问题，只回复这一句话，不要加任何别的内容：{ABSTAIN['zh']}"
    ),
    "en": (
        "You are a research assistant answering questions about academic papers. Answer only from the "
        "numbered passages below; do not use any knowledge outside them.\n"
        "Rules:\n"
        "1. End every sentence with the number of the passage it rests on, in square brackets, e.g. [1] "
        "or [2][3]; use only the numbers given.\n"
        "2. Copy figures, percentages, years, names of people, organisations and policies exactly as the "
        "passages give them (the passages may be in Chinese; keep the figures as they are).\n"
        "3. Answer in English, briefly, in at most five sentences.\n"
        f"4. If the passages do not answer the question, reply with exactly this sentence and nothing "
        f"else: {ABSTAIN['en']}"
    ),
}

# One passage of the context; `n` is the number the model cites.
PASSAGE = {
    "zh": "[{n}] 《{title}》{where}\n{text}",
    "en": "[{n}] “{title}”{where}\n{text}",
}
WHERE = {"zh": "，{section}，第 {page} 页", "en": ", {section}, p. {page}"}

HUMAN = {
    "zh": "论文段落：\n\n{passages}\n\n问题：{question}\n\n回答（每句末尾标注 [编号]）：",
    "en": "Passages:\n\n{passages}\n\nQuestion: {question}\n\nAnswer (end every sentence with its [number]):",
}

# Follow-up condensing: the conversation so far and the new question -> one standalone question.
CONDENSE_SYSTEM = {
    "zh": (
        "把对话中的最新问题改写成一个独立、完整的问题，使它不看对话也能理解（补全“它”“那”“第二点”等指代的内容）。"
        "保持原问题的语言。只输出改写后的问题，不要回答它，不要解释。"
    ),
    "en": (
        "Rewrite the latest question of the conversation as one standalone question that can be understood "
        "without the conversation (resolve words such as 'it', 'that' or 'the second point'). Keep the "
        "language of the latest question. Output only the rewritten question; do not answer it or explain."
    ),
}
CONDENSE_HUMAN = {
    "zh": "对话：\n{history}\n\n最新问题：{question}\n\n独立问题：",
    "en": "Conversation:\n{history}\n\nLatest question: {question}\n\nStandalone question:",
}
# One earlier turn of the conversation inside CONDENSE_HUMAN.
TURN = {"zh": "用户：{question}\n助手：{answer}", "en": "User: {question}\nAssistant: {answer}"}
TURN_QUESTION_ONLY = {"zh": "用户：{question}", "en": "User: {question}"}

# What replaces an instruction-like sentence of a passage (rag.text.is_instruction) in the prompt.
REMOVED = {
    "zh": "[此处一句疑似指令的文字已移除]",
    "en": "[an instruction-like sentence was removed here]",
}
