#!/usr/bin/python3
"""Helpers of bench/classify/run: the fixed 70/30 split, scikit-learn's
MultinomialNB baseline, the scoring table, and best-of-N timing. Debian's
Python only."""
import hashlib
import os
import subprocess
import sys
import time


def split(corpus_dir, out_dir):
    """70/30 by a fixed hash of the file name: train.tsv, test.tsv."""
    kinds = {"easy-ham-1": "ham", "easy-ham-2": "ham", "hard-ham-1": "ham",
             "spam-1": "spam", "spam-2": "spam"}
    rows = {"train": [], "test": []}
    for folder, label in sorted(kinds.items()):
        for name in sorted(os.listdir(os.path.join(corpus_dir, folder))):
            if not name.endswith(".txt"):
                continue
            h = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
            part = "train" if h % 100 < 70 else "test"
            rows[part].append((os.path.join(corpus_dir, folder, name), label))
    for part, items in rows.items():
        with open(os.path.join(out_dir, part + ".tsv"), "w") as f:
            for path, label in items:
                f.write(f"{path}\t{label}\n")
        print(f"{part}: {len(items)} mails, "
              f"{sum(1 for _, l in items if l == 'spam')} spam", file=sys.stderr)


def read_tsv(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def sklearn_nb(train_tsv, test_tsv, out_pred, out_times):
    """CountVectorizer on the raw text + MultinomialNB (default alpha)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB

    def texts(rows):
        for path, *_ in rows:
            with open(path, "rb") as f:
                yield f.read().decode("latin-1")

    train, test = read_tsv(train_tsv), read_tsv(test_tsv)
    t0 = time.monotonic()
    vec = CountVectorizer()
    x = vec.fit_transform(texts(train))
    clf = MultinomialNB().fit(x, [r[1] for r in train])
    t1 = time.monotonic()
    pred = clf.predict(vec.transform(texts(test)))
    t2 = time.monotonic()
    with open(out_pred, "w") as f:
        for (path, *_), label in zip(test, pred):
            f.write(f"{path}\t{label}\n")
    with open(out_times, "w") as f:
        f.write(f"{t1 - t0}\t{t2 - t1}\n")


def score(test_tsv, name, pred_file, train_s, classify_s, n_train, unsure_as=None):
    """One table row. pred_file: path<TAB>label[<TAB>confidence]; bogofilter's
    'unsure' counted as unsure_as."""
    truth = {r[0]: r[1] for r in read_tsv(test_tsv)}
    pred = {}
    for r in read_tsv(pred_file):
        label = r[1]
        if label == "unsure":
            label = unsure_as
        pred[r[0]] = label
    missing = [p for p in truth if p not in pred]
    tp = fp = tn = fn = 0
    for path, want in truth.items():
        got = pred.get(path, "ham")
        if want == "spam":
            tp += got == "spam"
            fn += got != "spam"
        else:
            fp += got == "spam"
            tn += got != "spam"
    n = tp + fp + tn + fn
    acc = (tp + tn) / n
    recall = tp / (tp + fn) if tp + fn else 0
    fpr = fp / (fp + tn) if fp + tn else 0
    train_rate = n_train / train_s if train_s > 0 else 0
    test_rate = n / classify_s if classify_s > 0 else 0
    print(f"{name:<34} {acc:8.4f} {recall:8.4f} {100 * fpr:7.2f}% "
          f"{fp:4d} {fn:4d} {train_rate:10.0f} {test_rate:10.0f}"
          + (f"   ({len(missing)} unanswered)" if missing else ""))


def triaged_pred(pred_file, out_file, threshold):
    """triagectl model predict output -> labels at a spam threshold."""
    with open(pred_file) as f, open(out_file, "w") as out:
        for line in f:
            path, label, conf = line.rstrip("\n").split("\t")
            p = float(conf) if label == "spam" else 1 - float(conf)
            out.write(f"{path}\t{'spam' if p >= threshold else 'ham'}\n")


def bogo_pred(bogo_out, out_file):
    """bogofilter -b -T lines 'path S|H|U score' -> labels."""
    names = {"S": "spam", "H": "ham", "U": "unsure"}
    with open(bogo_out) as f, open(out_file, "w") as out:
        for line in f:
            parts = line.split()
            if len(parts) >= 2:
                out.write(f"{parts[0]}\t{names.get(parts[1], 'unsure')}\n")


def best_of(runs, input_path, out_path, time_path, err_path, *command):
    """Runs command `runs` times (stdin from input_path) and keeps the run of
    least wall time: its stdout in out_path, "wall user sys" in seconds in
    time_path. CPU times come from wait4 (microseconds), not from
    /usr/bin/time's hundredths, which are a tenth of a short run."""
    best = None
    for _ in range(int(runs)):
        with open(input_path, "rb") as stdin, open(out_path + ".run", "wb") as stdout, \
                open(err_path, "wb") as stderr:
            start = time.monotonic()
            proc = subprocess.Popen(command, stdin=stdin, stdout=stdout, stderr=stderr)
            _, _, usage = os.wait4(proc.pid, 0)
            wall = time.monotonic() - start
        if best is None or wall < best[0]:
            best = (wall, usage.ru_utime, usage.ru_stime)
            os.replace(out_path + ".run", out_path)
    with open(time_path, "w") as f:
        f.write("%.6f %.6f %.6f\n" % best)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "split":
        split(*args)
    elif cmd == "sklearn":
        sklearn_nb(*args)
    elif cmd == "score":
        test_tsv, name, pred, tr, cl, ntr = args[:6]
        score(test_tsv, name, pred, float(tr), float(cl), int(ntr), *(args[6:]))
    elif cmd == "triaged-pred":
        triaged_pred(args[0], args[1], float(args[2]))
    elif cmd == "bogo-pred":
        bogo_pred(*args)
    elif cmd == "best-of":
        best_of(*args)
    else:
        sys.exit(f"unknown command {cmd}")
