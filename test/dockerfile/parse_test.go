package dockerfile

import (
	"bufio"
	"fmt"
	"regexp"
	"strings"
)

// instruction is one Dockerfile instruction with its continuation lines
// joined and any heredoc bodies attached.
type instruction struct {
	cmd      string   // upper case: FROM, RUN, COPY, ...
	args     string   // the rest of the line, continuations joined with a space
	heredocs []string // bodies of <<NAME heredocs, in order
	line     int      // 1-based line of the instruction
}

// stage is one FROM and the instructions up to the next FROM.
type stage struct {
	from         instruction
	image, alias string
	instructions []instruction
}

var heredocStart = regexp.MustCompile(`<<-?(["']?)([A-Za-z_][A-Za-z0-9_]*)(["']?)`)

// parse reads a Dockerfile: comments and blank lines are dropped (except
// inside heredocs), lines ending in a backslash continue, and a <<NAME
// heredoc runs until a line that is exactly NAME.
func parse(src string) ([]instruction, error) {
	var out []instruction
	sc := bufio.NewScanner(strings.NewReader(src))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		start := n
		for strings.HasSuffix(line, `\`) {
			line = strings.TrimSpace(strings.TrimSuffix(line, `\`))
			for {
				if !sc.Scan() {
					return nil, fmt.Errorf("line %d: continuation at end of file", start)
				}
				n++
				next := strings.TrimSpace(sc.Text())
				if next == "" || strings.HasPrefix(next, "#") {
					continue // comments and blank lines inside a continuation are skipped
				}
				line += " " + next
				break
			}
		}
		cmd, args, _ := strings.Cut(line, " ")
		ins := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		for _, m := range heredocStart.FindAllStringSubmatch(ins.args, -1) {
			if m[1] != m[3] {
				return nil, fmt.Errorf("line %d: unbalanced quotes in heredoc %s", start, m[0])
			}
			var body []string
			closed := false
			for sc.Scan() {
				n++
				if sc.Text() == m[2] {
					closed = true
					break
				}
				body = append(body, sc.Text())
			}
			if !closed {
				return nil, fmt.Errorf("line %d: heredoc %s is not closed", start, m[2])
			}
			ins.heredocs = append(ins.heredocs, strings.Join(body, "\n")+"\n")
		}
		out = append(out, ins)
	}
	return out, sc.Err()
}

// stages groups instructions by FROM. Instructions before the first FROM
// (global ARGs) are returned separately.
func stages(ins []instruction) (global []instruction, out []stage) {
	for _, i := range ins {
		if i.cmd == "FROM" {
			fields := strings.Fields(i.args)
			var s stage
			s.from = i
			for j := 0; j < len(fields); j++ {
				f := fields[j]
				switch {
				case strings.HasPrefix(f, "--"):
				case strings.EqualFold(f, "AS") && j+1 < len(fields):
					s.alias = fields[j+1]
					j++
				case s.image == "":
					s.image = f
				}
			}
			out = append(out, s)
			continue
		}
		if len(out) == 0 {
			global = append(global, i)
			continue
		}
		last := &out[len(out)-1]
		last.instructions = append(last.instructions, i)
	}
	return global, out
}

// find returns the instructions of a stage with the given command.
func (s stage) find(cmd string) []instruction {
	var out []instruction
	for _, i := range s.instructions {
		if i.cmd == cmd {
			out = append(out, i)
		}
	}
	return out
}

// stripRunFlags removes the leading --mount/--network/--security options of
// a RUN, leaving the shell command.
func stripRunFlags(args string) string {
	for strings.HasPrefix(args, "--") {
		_, rest, found := strings.Cut(args, " ")
		if !found {
			return ""
		}
		args = strings.TrimSpace(rest)
	}
	return args
}
