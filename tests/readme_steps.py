#!/usr/bin/python3
"""readme_steps.py README OUT: the README's deployment steps as a shell script.

The ```sh blocks between <!-- deploy-test:begin --> and <!-- deploy-test:end --> are split
into commands (a line; continued by a trailing backslash; a here-document up to its end
word).  Each command becomes one step of OUT, run in the same shell (cd and variables carry
over), its output in a file of its own, and checked for exit status 0 by the functions
ssm_step and ssm_after that the caller defines.  Exit 1 without the markers or sh blocks.
"""
import re
import sys

BEGIN, END = "<!-- deploy-test:begin -->", "<!-- deploy-test:end -->"


def blocks(text):
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        sys.exit("readme_steps: want exactly one %s and one %s" % (BEGIN, END))
    part = text[text.index(BEGIN) + len(BEGIN):text.index(END)]
    cur = None
    for line in part.split("\n"):
        if cur is None:
            if line.startswith("```"):
                cur = [] if line.strip() == "```sh" else False
        elif line.startswith("```"):
            if cur is not False:
                yield cur
            cur = None
        elif cur is not False:
            cur.append(line)
    if cur is not None:
        sys.exit("readme_steps: an unterminated ``` block")


def commands(lines):
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cmd = [line]
        while cmd[-1].endswith("\\") and i < len(lines):
            cmd.append(lines[i])
            i += 1
        m = re.search(r"<<-?\s*(['\"]?)([A-Za-z_]+)\1", "\n".join(cmd))
        if m:
            while i < len(lines) and lines[i] != m.group(2):
                cmd.append(lines[i])
                i += 1
            if i == len(lines):
                sys.exit("readme_steps: here-document %s not closed" % m.group(2))
            cmd.append(lines[i])
            i += 1
        yield "\n".join(cmd)


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    steps = [c for b in blocks(text) for c in commands(b)]
    if not steps:
        sys.exit("readme_steps: no command in the sh blocks between the markers")
    with open(sys.argv[2], "w", encoding="utf-8") as out:
        for n, c in enumerate(steps, 1):
            first = c.split("\n")[0]
            out.write("ssm_step %d %s\n{\n%s\n} >\"$SSM_STEPS/%d.out\" 2>&1 </dev/null\n"
                      "ssm_after %d $?\n" % (n, shq(first), c, n, n))
    print(len(steps))


def shq(s):
    return "'" + s.replace("'", "'\\''") + "'"


if __name__ == "__main__":
    main()
