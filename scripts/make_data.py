"""Regenerate the bundled tasks and pairs: `python scripts/make_data.py`.

Writes data/tasks.jsonl (prompts with verifiable gold, split train/eval) and
data/pairs.jsonl (pairs with gold labels from the verifiers). Deterministic (seed 0).

The tasks come in two groups. The first (capital/symbol QA, arithmetic, IFEval-style
constraints; 144 tasks) also yields the 336 bundled pairs, unchanged since they were first
published. The second is for the RLAIF loop only (no pairs): kinds where an over-long or
padded answer costs gold, so that a verbosity-biased judge has something to break —
one-word answers (``oneword``: the answer and a one- or two-word limit), more arithmetic with
"the number only" (a three-word limit), exact bullet counts of 2/4/5 and word limits of
5-20 words (``ifeval``). Its own random stream keeps the first group byte-identical.

Contrasts (column ``source``):
- correct_vs_wrong: same style, right vs wrong answer;
- limit: right answer within the word limit vs the same answer padded past it (longer is worse);
- padded_wrong: a short right answer vs a long, confident, padded wrong one;
- constraint: an IFEval-style constraint kept vs broken (bullets, keyword, no commas, length).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from judgebench.judges.verifiers import Task, gold_score

OUT = Path(__file__).resolve().parents[1] / "data"

CAPITALS = [
    ("France", "Paris", "Lyon"), ("Japan", "Tokyo", "Osaka"), ("Italy", "Rome", "Milan"),
    ("Spain", "Madrid", "Barcelona"), ("Germany", "Berlin", "Munich"),
    ("Canada", "Ottawa", "Toronto"), ("Australia", "Canberra", "Sydney"),
    ("Egypt", "Cairo", "Alexandria"), ("Kenya", "Nairobi", "Mombasa"),
    ("Brazil", "Brasilia", "Rio de Janeiro"), ("Peru", "Lima", "Cusco"),
    ("Norway", "Oslo", "Bergen"), ("Sweden", "Stockholm", "Gothenburg"),
    ("Portugal", "Lisbon", "Porto"), ("Greece", "Athens", "Thessaloniki"),
    ("Ireland", "Dublin", "Cork"), ("Poland", "Warsaw", "Krakow"),
    ("Austria", "Vienna", "Salzburg"), ("Argentina", "Buenos Aires", "Cordoba"),
    ("India", "New Delhi", "Mumbai"), ("China", "Beijing", "Shanghai"),
    ("Russia", "Moscow", "Saint Petersburg"), ("Turkey", "Ankara", "Istanbul"),
    ("Thailand", "Bangkok", "Chiang Mai"), ("Vietnam", "Hanoi", "Ho Chi Minh City"),
    ("Chile", "Santiago", "Valparaiso"), ("Colombia", "Bogota", "Medellin"),
    ("Finland", "Helsinki", "Tampere"), ("Denmark", "Copenhagen", "Aarhus"),
    ("Hungary", "Budapest", "Debrecen"), ("Belgium", "Brussels", "Antwerp"),
    ("Switzerland", "Bern", "Zurich"), ("South Korea", "Seoul", "Busan"),
    ("Nigeria", "Abuja", "Lagos"), ("Morocco", "Rabat", "Casablanca"),
    ("New Zealand", "Wellington", "Auckland"),
]
ELEMENTS = [
    ("gold", "Au", "Go"), ("iron", "Fe", "Ir"), ("sodium", "Na", "So"), ("silver", "Ag", "Si"),
    ("potassium", "K", "P"), ("lead", "Pb", "Le"), ("copper", "Cu", "Co"), ("tin", "Sn", "Ti"),
    ("mercury", "Hg", "Me"), ("helium", "He", "H"),
]
TOPICS = {
    "tea": ["Tea is brewed from the leaves of the Camellia sinensis plant.",
            "Green and black tea come from the same plant.",
            "Many cultures serve tea to welcome guests."],
    "bicycles": ["Bicycles turn leg power into motion with very little waste.",
                 "A bicycle chain links the pedals to the rear wheel.",
                 "Cycling to work cuts traffic and keeps riders fit."],
    "the ocean": ["The ocean covers about seventy percent of the planet.",
                  "Ocean currents carry heat from the tropics toward the poles.",
                  "Most of the deep ocean has never been explored."],
    "libraries": ["Libraries lend books to anyone with a card.",
                  "Many libraries also offer quiet rooms and free internet.",
                  "Librarians help readers find reliable sources."],
    "winter": ["Winter brings the shortest days of the year.",
               "Snow reflects sunlight and keeps the ground cold.",
               "Many animals sleep through the coldest months."],
    "gardening": ["Gardening starts with healthy soil.",
                  "Most vegetables need six hours of sun each day.",
                  "Compost returns nutrients from kitchen scraps to the garden."],
    "trains": ["Trains move many passengers with little fuel per person.",
               "Electric trains draw power from overhead lines or a third rail.",
               "High speed trains can link cities faster than planes."],
    "honeybees": ["Honeybees pollinate many of the crops people eat.",
                  "A hive can hold tens of thousands of bees.",
                  "Bees turn flower nectar into honey."],
    "coffee": ["Coffee is made from the roasted seeds of the coffee plant.",
               "Caffeine in coffee helps people feel alert.",
               "Brazil grows more coffee than any other country."],
    "mountains": ["Mountains form where the plates of the crust collide.",
                  "The air grows thinner as climbers go higher.",
                  "Snow on high peaks feeds rivers in the summer."],
    "rain": ["Rain falls when droplets in clouds grow too heavy to float.",
             "Rain fills rivers and lakes and waters crops.",
             "Some deserts see rain only once in several years."],
    "chess": ["Chess is played on a board of sixty-four squares.",
              "Each player starts with sixteen pieces.",
              "The game ends when a king is checkmated."],
}
KEYWORDS = {"tea": "leaves", "bicycles": "chain", "the ocean": "currents", "libraries": "books",
            "winter": "snow", "gardening": "soil", "trains": "passengers", "honeybees": "hive",
            "coffee": "caffeine", "mountains": "climbers", "rain": "clouds", "chess": "king"}
FILLER = [
    "To put it another way, this is a well-known and widely accepted fact.",
    "It is worth emphasising that this point has been carefully considered.",
    "In summary, and to restate the answer clearly, the point above stands.",
    "Many sources agree on this, and it is important to keep it in mind.",
]


def pad(text: str, rng: random.Random, n: int) -> str:
    """Append n content-free filler sentences."""
    return text + " " + " ".join(rng.choice(FILLER) for _ in range(n))


def qa_tasks(rng: random.Random) -> list[tuple[Task, str, str]]:
    """(task, right answer sentence, wrong answer sentence)."""
    out = []
    for country, right, wrong in CAPITALS:
        task = Task(task_id=f"qa-capital-{country.lower().replace(' ', '-')}",
                    prompt=f"What is the capital of {country}? Answer in at most 12 words.",
                    kind="qa", answer=(right,), max_words=12)
        out.append((task, f"The capital of {country} is {right}.",
                    f"The capital of {country} is {wrong}."))
    for element, right, wrong in ELEMENTS:
        task = Task(task_id=f"qa-symbol-{element}",
                    prompt=f"What is the chemical symbol for {element}? Answer in at most 12 words.",
                    kind="qa", answer=(right,), max_words=12)
        out.append((task, f"The chemical symbol for {element} is {right}.",
                    f"The chemical symbol for {element} is {wrong}."))
    return out


def arithmetic_tasks(rng: random.Random, n: int = 50) -> list[tuple[Task, str, str]]:
    """Addition, subtraction and multiplication with a one-number answer."""
    out = []
    for i in range(n):
        op = ["+", "-", "*"][i % 3]
        a, b = rng.randint(12, 99), rng.randint(2, 60 if op != "*" else 12)
        value = {"+": a + b, "-": a - b, "*": a * b}[op]
        wrong = value + rng.choice([-10, -2, -1, 1, 2, 10])
        task = Task(task_id=f"arith-{i:03d}",
                    prompt=f"What is {a} {op} {b}? Reply with the number only.",
                    kind="arithmetic", answer=(str(value),), max_words=3)
        out.append((task, str(value), str(wrong)))
    return out


def constraint_tasks() -> list[tuple[Task, str, str]]:
    """IFEval-style tasks: (task, response that keeps the constraint, response that breaks it)."""
    out = []
    for topic, facts in TOPICS.items():
        slug = topic.replace(" ", "-")
        out.append((Task(task_id=f"if-bullets-{slug}",
                         prompt=f"Give exactly 3 bullet points about {topic}. Start each with '-'.",
                         kind="ifeval", n_bullets=3),
                    "\n".join(f"- {f}" for f in facts),
                    "\n".join(f"- {f}" for f in facts + [facts[0].split(".")[0] + " again."])))
        kw = KEYWORDS[topic]
        with_kw = next(f for f in facts if kw in f.lower())
        without_kw = next(f for f in facts if kw not in f.lower())
        out.append((Task(task_id=f"if-keyword-{slug}",
                         prompt=f"Write one sentence about {topic} that uses the word '{kw}'.",
                         kind="ifeval", keyword=kw), with_kw, without_kw))
        out.append((Task(task_id=f"if-nocomma-{slug}",
                         prompt=f"Write two sentences about {topic} without using any commas.",
                         kind="ifeval", no_commas=True),
                    f"{facts[0]} {facts[1]}",
                    f"{facts[0][:-1]}, as everyone knows. {facts[1]}"))
        out.append((Task(task_id=f"if-short-{slug}",
                         prompt=f"Describe {topic} in at most 15 words.",
                         kind="ifeval", max_words=15),
                    facts[0], " ".join(facts)))
    return out


ONE_WORD = [
    # (question, accepted answers); every question asks for one word (or one number).
    ("What color is the sky on a clear day?", ("blue",)),
    ("What color is fresh grass?", ("green",)),
    ("What color is snow?", ("white",)),
    ("What color is a ripe banana?", ("yellow",)),
    ("What color is coal?", ("black",)),
    ("What color are most strawberries?", ("red",)),
    ("What color do you get by mixing blue and yellow?", ("green",)),
    ("What color do you get by mixing red and white?", ("pink",)),
    ("What is the opposite of hot?", ("cold",)),
    ("What is the opposite of up?", ("down",)),
    ("What is the opposite of big?", ("small", "little")),
    ("What is the opposite of fast?", ("slow",)),
    ("What is the opposite of day?", ("night",)),
    ("What is the opposite of happy?", ("sad", "unhappy")),
    ("What is the opposite of open?", ("closed", "shut")),
    ("What is the opposite of full?", ("empty",)),
    ("What is the opposite of light?", ("dark", "heavy")),
    ("What is the opposite of early?", ("late",)),
    ("What is the opposite of win?", ("lose",)),
    ("What is the opposite of north?", ("south",)),
    ("What is a baby cat called?", ("kitten",)),
    ("What is a baby dog called?", ("puppy", "pup")),
    ("What is a baby cow called?", ("calf",)),
    ("What is a baby sheep called?", ("lamb",)),
    ("What is a baby horse called?", ("foal", "colt", "filly")),
    ("What is a baby goat called?", ("kid",)),
    ("What is a baby frog called?", ("tadpole",)),
    ("What is a baby bear called?", ("cub",)),
    ("What is the plural of mouse?", ("mice",)),
    ("What is the plural of child?", ("children",)),
    ("What is the plural of foot?", ("feet",)),
    ("What is the plural of tooth?", ("teeth",)),
    ("What is the plural of goose?", ("geese",)),
    ("What is the plural of man?", ("men",)),
    ("What is the plural of woman?", ("women",)),
    ("What is the plural of person?", ("people", "persons")),
    ("Which day comes after Monday?", ("Tuesday",)),
    ("Which day comes after Friday?", ("Saturday",)),
    ("Which day comes before Sunday?", ("Saturday",)),
    ("Which day comes before Thursday?", ("Wednesday",)),
    ("Which month comes after January?", ("February",)),
    ("Which month comes after June?", ("July",)),
    ("Which month comes before December?", ("November",)),
    ("Which month comes before April?", ("March",)),
    ("What is the first month of the year?", ("January",)),
    ("What is the last month of the year?", ("December",)),
    ("How many legs does a spider have?", ("8", "eight")),
    ("How many legs does an insect have?", ("6", "six")),
    ("How many days are in a week?", ("7", "seven")),
    ("How many months are in a year?", ("12", "twelve")),
    ("How many hours are in a day?", ("24", "twenty-four")),
    ("How many minutes are in an hour?", ("60", "sixty")),
    ("How many sides does a triangle have?", ("3", "three")),
    ("How many sides does a square have?", ("4", "four")),
    ("How many sides does a hexagon have?", ("6", "six")),
    ("How many continents are there?", ("7", "seven")),
    ("What is the largest planet in our solar system?", ("Jupiter",)),
    ("Which planet is known as the red planet?", ("Mars",)),
    ("Which planet is closest to the sun?", ("Mercury",)),
    ("What is the largest ocean on Earth?", ("Pacific",)),
    ("What gas do plants take in from the air?", ("carbon dioxide", "CO2")),
    ("What do bees make?", ("honey",)),
    ("What is frozen water called?", ("ice",)),
    ("What is the main language spoken in Brazil?", ("Portuguese",)),
    ("What is the main language spoken in Mexico?", ("Spanish",)),
    ("What is the main language spoken in Germany?", ("German",)),
    ("What is the main language spoken in Japan?", ("Japanese",)),
    ("Which animal is known as the king of the jungle?", ("lion",)),
    ("Which animal has a trunk?", ("elephant",)),
    ("Which bird is a symbol of peace?", ("dove",)),
    ("What is the tallest animal?", ("giraffe",)),
    ("What do cows drink?", ("water",)),
    ("What is the fastest land animal?", ("cheetah",)),
    ("What shape has three sides?", ("triangle",)),
    ("What metal is liquid at room temperature?", ("mercury",)),
    ("What is the hardest natural substance?", ("diamond",)),
    ("Which organ pumps blood through the body?", ("heart",)),
    ("Which season comes after winter?", ("spring",)),
    ("Which season comes after summer?", ("autumn", "fall")),
    ("What is the boiling point of water in degrees Celsius?", ("100",)),
]
EXTRA_TOPICS = {
    # topics for bullet counts and word limits, beyond TOPICS
    "music": "Music", "the moon": "The moon", "forests": "Forests", "bread": "Bread",
    "cats": "Cats", "the desert": "The desert", "volcanoes": "Volcanoes", "birds": "Birds",
}


def loop_tasks(rng: random.Random) -> list[Task]:
    """The loop-only tasks (module doc): one-word QA, arithmetic, bullet counts, word limits."""
    tasks = []
    for i, (question, answers) in enumerate(ONE_WORD):
        limit = max(len(a.split()) for a in answers)
        unit = "number" if answers[0].isdigit() else "word" if limit == 1 else "words"
        how = "Answer with one number only." if unit == "number" else \
            "Answer with one word only." if limit == 1 else f"Answer in at most {limit} words."
        tasks.append(Task(task_id=f"oneword-{i:03d}", prompt=f"{question} {how}",
                          kind="oneword", answer=answers, max_words=limit))
    for i in range(70):
        op = ["+", "-", "*"][i % 3]
        a, b = rng.randint(100, 999) if op != "*" else rng.randint(11, 40), rng.randint(2, 99)
        value = {"+": a + b, "-": a - b, "*": a * b}[op]
        tasks.append(Task(task_id=f"arith-only-{i:03d}",
                          prompt=f"Compute {a} {op} {b}. Give the answer only, no words.",
                          kind="arithmetic", answer=(str(value),), max_words=3))
    topics = list(TOPICS) + list(EXTRA_TOPICS)
    for topic in topics:
        slug = topic.replace(" ", "-")
        for n in (2, 4, 5):
            tasks.append(Task(task_id=f"if-bullets{n}-{slug}",
                              prompt=f"List exactly {n} short bullet points about {topic}. "
                                     "Start each line with '-'.",
                              kind="ifeval", n_bullets=n))
        for limit in (5, 10):
            tasks.append(Task(task_id=f"if-limit{limit}-{slug}",
                              prompt=f"Say something true about {topic} in at most {limit} words.",
                              kind="ifeval", max_words=limit))
    return tasks


def main() -> None:
    rng = random.Random(0)
    triples = qa_tasks(rng) + arithmetic_tasks(rng) + constraint_tasks()
    tasks, pairs = [], []
    for k, (task, good, bad) in enumerate(triples):
        split = "eval" if k % 4 == 3 else "train"
        task = Task(**{**task.to_dict(), "answer": tuple(task.answer), "split": split})
        tasks.append(task)
        contrasts = [("correct_vs_wrong" if task.kind != "ifeval" else "constraint", good, bad)]
        if task.kind != "ifeval":
            contrasts.append(("limit", good, pad(good, rng, 3)))
            contrasts.append(("padded_wrong", good, pad(bad, rng, 2)))
        for source, better, worse in contrasts:
            g_better, g_worse = gold_score(task, better), gold_score(task, worse)
            if g_better <= g_worse:
                raise RuntimeError(f"{task.task_id}/{source}: the better response does not score "
                                   f"higher ({g_better} vs {g_worse}).")
            long_is_better = len(better) > len(worse)
            writers = ("verbose-bot", "terse-bot") if long_is_better else ("terse-bot",
                                                                           "verbose-bot")
            swap = rng.random() < 0.5  # gold winner in slot 1 or 2 with equal odds
            r1, r2 = (worse, better) if swap else (better, worse)
            m1, m2 = (writers[1], writers[0]) if swap else writers
            pairs.append({
                "pair_id": f"{task.task_id}/{source}", "prompt": task.prompt,
                "response_1": r1, "response_2": r2, "label": 2 if swap else 1,
                "model_1": m1, "model_2": m2, "source": source, "task_id": task.task_id,
                "split": split, "gold_1": gold_score(task, r1), "gold_2": gold_score(task, r2),
            })
    # The loop-only tasks: 2 in 5 held out (more than the first group's 1 in 4), so that the
    # loop has >= 100 held-out prompts to measure drift on.
    for k, task in enumerate(loop_tasks(random.Random(1))):
        tasks.append(Task(**{**task.to_dict(), "answer": tuple(task.answer),
                             "split": "eval" if k % 5 in (1, 3) else "train"}))
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "tasks.jsonl", "w") as f:
        for t in tasks:
            f.write(json.dumps(t.to_dict()) + "\n")
    with open(OUT / "pairs.jsonl", "w") as f:
        for p in pairs:
            f.write(json.dumps(p) + "\n")
    print(f"{len(tasks)} tasks, {len(pairs)} pairs -> {OUT}")


if __name__ == "__main__":
    main()
