#!/usr/bin/env python3
"""check_errors.py - docs/errors.md lists every error message the extension
can return, and nothing else (ctest docs.errors).

  E1. Every error format string in ext/*.c, and in the engine sources whose
      messages surface through SQL (engine/*.c reachable from ext/ by calls,
      see reachable_engine_files), appears in a message table of
      docs/errors.md.
  E2. Every message listed in those tables still exists in the code.
  E3. No message format of ext/ (built by SQLite's printf) uses %zu, %jd or
      %td: SQLite's printf has no such length modifiers (its %z is a string
      it frees), so the argument would be read as a pointer.
  E4. Every error the SQL regression tests print (tests/sql/*.expected:
      "Runtime error: ...", "Parse error: ...", "Error: ...") matches a
      message of docs/errors.md -- the whole message, or the part after
      "<function>: " or "<function>: argument <i> (<name>): " -- or one of
      SQLite's own messages in its table there.  This checks the output, so
      it also sees messages the source scan below cannot (built in pieces,
      or kept in data).
  E5. Every entry of NOT_MESSAGES still exists in the code.

What counts as an error format string: the format argument (a string
literal, possibly concatenated with string macros such as REGISTRY) of
  cmanp_err_set(e, code, FMT, ...)   cmanp_err_prefix(e, FMT, ...)
  cx_error(ctx, FMT, ...)            cx_arg_error(ctx, fn, i, name, FMT, ...)
  cx_arg_errmsg(fn, i, name, FMT, ...)   sqlite3_result_error(ctx, FMT, n)
  any other *_err(FMT, ...) / *_errmsg(FMT, ...) helper defined in ext/
  sqlite3_mprintf(FMT, ...) (or pApi->mprintf): every one, fail-closed; the
      few formats that are not messages (value descriptions and fragments
      that other messages nest) are listed in NOT_MESSAGES below
Formats without any word (e.g. "%s: %s") only compose other messages and are
skipped.

Comparison: printf conversions (%s, %lld, %.*s, %!.15g, %q, ... ; %% is a
literal %) and, in docs/errors.md, placeholders <like this> both become one
wildcard, so `no model named '<name>' in main.cmanp_models` matches
"no model named '%s' in " REGISTRY.  A wildcard on either side may also stand
for literal text on the other: the engine's shared checks word some messages
with a %s for the kind ("%s BLOB is corrupt (checksum mismatch)"), which the
docs list once per kind ("state BLOB is corrupt ...", "cmhp state BLOB is
corrupt ...").  For E2 only, a listed message may also be found in any string
literal of the scanned sources (messages kept in tables of data).  The tables
checked are those whose header row is exactly
  | function | message | cause | fix |
and the message is the code span (`...`) in the second cell; a literal | in
a message is written \\|.

    python3 tests/check_errors.py            # check
    python3 tests/check_errors.py --missing  # print table rows to fill in
"""
import glob
import os
import re
import sys

SRC = os.environ.get("CMANP_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DOC = os.path.join(SRC, "docs", "errors.md")

CONV = re.compile(r"%(?:%|[-+ #0!,]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?:hh|h|ll|l|L|q|j|z|t)?[diouxXeEfFgGcspqQwzn])")
PRI = {"PRId64": "lld", "PRIu64": "llu", "PRIx64": "llx", "PRIi64": "lli"}
WILD = "\u2039\u203a"  # the wildcard both sides are normalised to

# Formats of sqlite3_mprintf that are not error messages: pieces that other
# messages nest (value descriptions, "<function>: argument <i> (<name>):
# <message>" itself, the subject of a message).  E5 keeps this list current.
NOT_MESSAGES = {
    "%s: argument %d (%s): %s",          # ext/util.c: the argument prefix (docs: "How messages are built")
    "NULL", "INTEGER %lld", "REAL %!.15g", "TEXT '%!.21q...'", "TEXT '%q'",
    "a BLOB of %d byte%s",               # ext/util.c: <value>
    "the string '%!.21q...'", "the string '%q'", "an object", "an array",  # ext/train_sql.c: option values
    "main.cmanp_models row '%s'",        # ext/cmhp_sql.c: the subject of "<what> is not a valid CMHP model"
}

# call name -> index of the format argument
FIXED = {"cmanp_err_set": 2, "cmanp_err_prefix": 1, "cx_error": 1, "cx_arg_error": 4,
         "cx_arg_errmsg": 3, "sqlite3_result_error": 1}


def strip_comments(text):
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def split_args(text, start):
    """text[start] is '('; returns (list of argument strings, index after ')')."""
    depth, i, n, args, cur = 0, start, len(text), [], []
    while i < n:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            cur.append(text[i:j + 1])
            i = j + 1
            continue
        if c in "([{":
            depth += 1
            if depth > 1:
                cur.append(c)
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append("".join(cur).strip())
                return args, i + 1
            cur.append(c)
        elif c == "," and depth == 1:
            args.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    return args, n


def unescape(s):
    return re.sub(r'\\(["\\\'nt])', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), s)


def literal(arg, macros):
    """The string an argument made of literals and string macros denotes, or None."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"|([A-Za-z_]\w*)|(\S)', arg)
    if not parts:
        return None
    out = []
    for lit, ident, other in parts:
        if other:
            return None
        if ident:
            if ident in macros:
                out.append(macros[ident])
            elif ident in PRI:
                out.append(PRI[ident])
            else:
                return None
        else:
            out.append(unescape(lit))
    return "".join(out)


def formats_in(path):
    raw = open(path, encoding="utf-8").read()
    text = strip_comments(raw)
    macros = {m.group(1): unescape(m.group(2))
              for m in re.finditer(r'^#define\s+(\w+)\s+"((?:[^"\\]|\\.)*)"\s*$', text, re.M)}
    helpers = {m.group(1) for m in re.finditer(
        r"^static\s+char\s*\*\s*(\w+_(?:err|errmsg))\s*\(\s*const\s+char\s*\*\s*fmt", text, re.M)}
    found = []
    for m in re.finditer(r"\b([A-Za-z_]\w*)\s*\(", text):
        name = m.group(1)
        if name in FIXED:
            k = FIXED[name]
        elif name in helpers:
            k = 0
        elif name in ("sqlite3_mprintf", "mprintf"):  # mprintf: pApi->mprintf in the entry point
            k = 0  # every one: a format that is not a message is listed in NOT_MESSAGES
        else:
            continue
        # skip the definitions / prototypes of the helpers themselves
        if re.match(r"\s*(static\s+)?(void|int|char\s*\*)\s*$", text[max(0, m.start() - 20):m.start()]):
            continue
        args, _ = split_args(text, m.end() - 1)
        if len(args) <= k:
            continue
        fmt = literal(args[k], macros)
        if fmt is None:
            continue
        line = text.count("\n", 0, m.start()) + 1
        found.append((fmt, "%s:%d" % (os.path.relpath(path, SRC), line)))
    return found


def norm_code(fmt):
    s = CONV.sub(lambda m: "%" if m.group(0) == "%%" else WILD, fmt)
    return s


def norm_doc(msg):
    return re.sub(r"<[^<>]*>", WILD, msg.replace("\\|", "|"))


def has_words(fmt):
    return re.search(r"[A-Za-z]{2,}", CONV.sub("", fmt)) is not None


def reachable_engine_files():
    """engine/*.c whose non-static functions are called, directly or through
    other engine files, from ext/*.c."""
    defs = {}
    texts = {}
    for p in glob.glob(os.path.join(SRC, "engine", "*.c")):
        t = strip_comments(open(p, encoding="utf-8").read())
        texts[p] = t
        for m in re.finditer(r"^(?!static\b)[A-Za-z_][\w \*]*?\b(\w+)\s*\([^;{]*\)\s*\{", t, re.M):
            defs.setdefault(m.group(1), p)
    used = set()
    frontier = [strip_comments(open(p, encoding="utf-8").read())
                for p in glob.glob(os.path.join(SRC, "ext", "*.c"))]
    while frontier:
        t = frontier.pop()
        for ident in set(re.findall(r"\b([a-z_]\w*)\s*\(", t)):
            p = defs.get(ident)
            if p and p not in used:
                used.add(p)
                frontier.append(texts[p])
    return sorted(used)


def doc_messages():
    if not os.path.exists(DOC):
        return {}, ["docs/errors.md does not exist"]
    rows, bad, in_table = {}, [], False
    for i, line in enumerate(open(DOC, encoding="utf-8"), 1):
        s = line.strip()
        if re.match(r"^\|\s*function\s*\|\s*message\s*\|\s*cause\s*\|\s*fix\s*\|$", s):
            in_table = True
            continue
        if not s.startswith("|"):
            in_table = False
            continue
        if not in_table or re.match(r"^\|[\s\-:|]+\|$", s):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", s)[1:-1]]
        if len(cells) != 4:
            bad.append("docs/errors.md:%d: a message row needs 4 cells, found %d" % (i, len(cells)))
            continue
        m = re.fullmatch(r"`(.+)`", cells[1])
        if not m:
            bad.append("docs/errors.md:%d: the message cell is not one code span: %s" % (i, cells[1]))
            continue
        if not cells[2] or not cells[3]:
            bad.append("docs/errors.md:%d: empty cause or fix" % i)
        rows.setdefault(norm_doc(m.group(1)), i)
    return rows, bad


def wild_regex(normed):
    """A regex for a normalised message: each wildcard matches any text."""
    return re.compile(".*".join(re.escape(p) for p in normed.split(WILD)), re.S)


def covers(a, b):
    """Message a (normalised) matches b: equal, or each wildcard of a stands
    for a few words of b (at most three: "state", "cmhp state", ...) or for
    b's own wildcards -- a %s that holds a whole clause in the code is not
    taken to cover a message listed with that clause spelt out."""
    if a == b:
        return True
    if WILD not in a:
        return False
    few = r"(?:[^ ]*(?: [^ ]*){0,2})"
    rx = few.join(re.escape(p) for p in a.split(WILD))
    return re.fullmatch(rx, b, re.S) is not None


def string_literals(path):
    """Every string literal of a C file, adjacent literals joined."""
    text = strip_comments(open(path, encoding="utf-8").read())
    out = []
    for m in re.finditer(r'"(?:[^"\\\n]|\\.)*"(?:\s*"(?:[^"\\\n]|\\.)*")*', text):
        out.append(unescape("".join(re.findall(r'"((?:[^"\\\n]|\\.)*)"', m.group(0)))))
    return out


def sqlite_messages():
    """The code spans of the first cell of the 'SQLite message' table."""
    out, in_table = [], False
    for line in open(DOC, encoding="utf-8"):
        s = line.strip()
        if re.match(r"^\|\s*SQLite message\s*\|", s):
            in_table = True
            continue
        if not s.startswith("|"):
            in_table = False
            continue
        if in_table and not re.match(r"^\|[\s\-:|]+\|$", s):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", s)[1:-1]]
            out += [norm_doc(c) for c in re.findall(r"`([^`]+)`", cells[0])]
    return out


def expected_errors():
    """(message, where) for every error line of tests/sql/*.expected."""
    out = []
    for p in sorted(glob.glob(os.path.join(SRC, "tests", "sql", "*.expected"))):
        for i, line in enumerate(open(p, encoding="utf-8", errors="replace"), 1):
            m = re.match(r"^(?:Runtime error|Parse error|Error)(?: near line \d+)?: (.*?)(?: \(\d+\))?$",
                         line.rstrip("\n"))  # " (8)": the shell's extended result code
            if m:
                out.append((m.group(1), "%s:%d" % (os.path.relpath(p, SRC), i)))
    return out


PREFIX = re.compile(r"^([a-z_0-9]+): (?:argument \d+ \([^()]*\): )?(.*)$", re.S)


def main():
    files = sorted(glob.glob(os.path.join(SRC, "ext", "*.c"))) + reachable_engine_files()
    code, seen_not = {}, set()
    for p in files:
        for fmt, where in formats_in(p):
            if fmt in NOT_MESSAGES:
                seen_not.add(fmt)
            elif has_words(fmt):
                code.setdefault(norm_code(fmt), (fmt, where))
    docs, bad = doc_messages()
    missing = sorted((k for k in code if not any(covers(k, d) or covers(d, k) for d in docs)),
                     key=lambda k: code[k][1])
    literals = [norm_code(x) for p in files for x in string_literals(p)]
    def in_literals(d):  # also "<label>: <a literal>" (a prefix joined by "%s: %s")
        tails = [d] + ([d.split(": ", 1)[1]] if ": " in d else [])
        return any(covers(t, x) or covers(x, t) for t in tails for x in literals if re.search("[A-Za-z]{2}", x))
    stale = sorted((d for d in docs if not any(covers(k, d) or covers(d, k) for k in code)
                    and not in_literals(d)), key=lambda k: docs[k])
    # E4: what the SQL tests print
    known = list(docs) + sqlite_messages()
    unlisted = []
    for msg, where in expected_errors():
        cands = [msg]
        m = PREFIX.match(msg)
        if m:
            cands.append(m.group(2))
        if not any(wild_regex(k).fullmatch(c) for k in known for c in cands):
            unlisted.append((msg, where))
    if "--missing" in sys.argv:
        for k in missing:
            fmt, where = code[k]
            shown = CONV.sub(lambda m: "%" if m.group(0) == "%%" else "<?>", fmt).replace("|", "\\|")
            print("| ? | `%s` | ? (%s) | ? |" % (shown, where))
        return 0
    # E3: SQLite's printf has no z / j / t length modifiers (its %z takes a
    # string and frees it): a %zu in a message built by sqlite3_mprintf reads
    # a size_t as a pointer.  The compiler's format check cannot see this.
    for p in sorted(glob.glob(os.path.join(SRC, "ext", "*.c"))):
        for fmt, where in formats_in(p):
            if re.search(r"%[-+ #0!,]*(\*|\d+)?(\.(\*|\d+))?[zjt][diouxX]", fmt):
                bad.append("E3 %s: SQLite's printf does not know %%z / %%j / %%t: %r" % (where, fmt))
    for k in missing:
        fmt, where = code[k]
        bad.append("E1 %s: message not in docs/errors.md: %r" % (where, fmt))
    for k in stale:
        bad.append("E2 docs/errors.md:%d: message no longer in the code: %s" % (docs[k], k.replace(WILD, "<>")))
    for msg, where in unlisted:
        bad.append("E4 %s: error not in docs/errors.md: %s" % (where, msg))
    for fmt in sorted(NOT_MESSAGES - seen_not):
        bad.append("E5 NOT_MESSAGES entry no longer in the code: %r" % fmt)
    for b in bad:
        print("FAIL " + b)
    print("%d error messages in %d files (%d engine files reach SQL), %d listed in docs/errors.md, "
          "%d errors printed by tests/sql: %s"
          % (len(code), len(files), len(files) - len(glob.glob(os.path.join(SRC, "ext", "*.c"))),
             len(docs), len(expected_errors()), "FAILED" if bad else "ok"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
