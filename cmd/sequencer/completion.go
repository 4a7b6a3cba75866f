package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

func init() {
	registerGroup("completion", "print a shell completion script: completion bash|zsh|fish", cmdCompletion, shells)
}

const completionUsage = `usage: sequencer completion bash|zsh|fish

Load it in the current shell:
  bash:  source <(sequencer completion bash)
  zsh:   source <(sequencer completion zsh)
  fish:  sequencer completion fish | source
or save it where the shell looks for completions (e.g.
/etc/bash_completion.d/sequencer, ~/.config/fish/completions/sequencer.fish).`

// shells are the scripts `completion` writes, by shell name.
var shells = map[string]func(io.Writer, []node){
	"bash": func(w io.Writer, tree []node) { writeBashCompletion(w, tree, false) },
	"zsh":  func(w io.Writer, tree []node) { writeBashCompletion(w, tree, true) },
	"fish": writeFishCompletion,
}

func cmdCompletion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 1 {
		switch args[0] {
		case "-h", "-help", "--help", "help":
			fmt.Fprintln(stderr, completionUsage)
			return nil
		}
	}
	if len(args) != 1 {
		fmt.Fprintln(stderr, completionUsage)
		return usageError("completion: want exactly one shell: bash, zsh or fish")
	}
	write, ok := shells[args[0]]
	if !ok {
		fmt.Fprintln(stderr, completionUsage)
		return usageError("completion: unknown shell %q (want bash, zsh or fish)", args[0])
	}
	write(stdout, commandTree(ctx))
	return nil
}

// node is one command or subcommand as the completion scripts see it.
type node struct {
	path     []string // e.g. [db backup]
	summary  string
	children []string
	flags    []flagInfo
}

type flagInfo struct {
	name  string
	usage string
	value bool // takes a value (not a bool flag)
}

// commandTree lists every command and subcommand with its flags. The flags
// are read from each command's own -h output, so that a flag added to a
// command is completed without touching this file.
func commandTree(ctx context.Context) []node {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	tree := []node{{children: names}}
	for _, n := range names {
		subs := commands[n].subs
		tree = append(tree, node{path: []string{n}, summary: commands[n].summary, children: subs, flags: helpFlags(ctx, []string{n})})
		for _, s := range subs {
			if n == "completion" {
				// `completion bash -h` is a usage error, not a flag list.
				tree = append(tree, node{path: []string{n, s}})
				continue
			}
			tree = append(tree, node{path: []string{n, s}, flags: helpFlags(ctx, []string{n, s})})
		}
	}
	return tree
}

// helpFlags runs `sequencer PATH -h` and reads the flags from the
// flag package's listing ("  -name type" then "    \tusage").
func helpFlags(ctx context.Context, path []string) []flagInfo {
	var buf bytes.Buffer
	commands[path[0]].run(ctx, append(slices.Clone(path[1:]), "-h"), &buf, &buf)
	var flags []flagInfo
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "  -"):
			f := strings.Fields(line[3:])
			flags = append(flags, flagInfo{name: f[0], value: len(f) > 1})
		case strings.HasPrefix(line, "    \t") && len(flags) > 0:
			last := &flags[len(flags)-1]
			last.usage = strings.TrimSpace(last.usage + " " + strings.TrimSpace(line))
		}
	}
	return flags
}

// writeBashCompletion writes a bash script; zsh runs the same one through
// bashcompinit. The words before the cursor that name a command or
// subcommand give the path; the cursor's word completes as a flag of that
// path when it starts with "-", else as a child of it, else as a file.
func writeBashCompletion(w io.Writer, tree []node, zsh bool) {
	var b strings.Builder
	if zsh {
		b.WriteString("#compdef sequencer\n# zsh completion for sequencer: source <(sequencer completion zsh)\n")
		b.WriteString("autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n\n")
	} else {
		b.WriteString("# bash completion for sequencer: source <(sequencer completion bash)\n\n")
	}
	b.WriteString("_sequencer_children() {\n\tcase \"$1\" in\n")
	for _, n := range tree {
		if len(n.children) > 0 {
			fmt.Fprintf(&b, "\t%q) echo %q ;;\n", strings.Join(n.path, " "), strings.Join(n.children, " "))
		}
	}
	b.WriteString("\tesac\n}\n\n_sequencer_flags() {\n\tcase \"$1\" in\n")
	for _, n := range tree {
		if len(n.flags) > 0 {
			words := make([]string, len(n.flags))
			for i, f := range n.flags {
				words[i] = "--" + f.name
			}
			fmt.Fprintf(&b, "\t%q) echo %q ;;\n", strings.Join(n.path, " "), strings.Join(words, " "))
		}
	}
	b.WriteString(`	esac
}

_sequencer() {
	local cur="${COMP_WORDS[COMP_CWORD]}" path="" i w
	for ((i = 1; i < COMP_CWORD; i++)); do
		for w in $(_sequencer_children "$path"); do
			if [[ "${COMP_WORDS[i]}" == "$w" ]]; then
				path="${path:+$path }$w"
				break
			fi
		done
	done
	if [[ "$cur" == -* ]]; then
		COMPREPLY=($(compgen -W "$(_sequencer_flags "$path")" -- "$cur"))
	else
		COMPREPLY=($(compgen -W "$(_sequencer_children "$path")" -- "$cur"))
	fi
}

complete -o default -F _sequencer sequencer
`)
	io.WriteString(w, b.String())
}

// writeFishCompletion writes one `complete` line per command, subcommand
// and flag, each guarded by the words already on the command line.
func writeFishCompletion(w io.Writer, tree []node) {
	var b strings.Builder
	b.WriteString("# fish completion for sequencer: sequencer completion fish | source\n")
	b.WriteString("complete -c sequencer -f\n")
	for _, n := range tree[1:] {
		cond := "__fish_use_subcommand"
		if len(n.path) == 2 {
			cond = fmt.Sprintf("__fish_seen_subcommand_from %s; and not __fish_seen_subcommand_from %s", n.path[0], strings.Join(commands[n.path[0]].subs, " "))
		}
		fmt.Fprintf(&b, "complete -c sequencer -n %s -a %s", fishQuote(cond), n.path[len(n.path)-1])
		if n.summary != "" {
			fmt.Fprintf(&b, " -d %s", fishQuote(n.summary))
		}
		b.WriteString("\n")
	}
	for _, n := range tree[1:] {
		cond := "__fish_seen_subcommand_from " + n.path[0]
		if len(n.path) == 2 {
			cond += "; and __fish_seen_subcommand_from " + n.path[1]
		} else if subs := commands[n.path[0]].subs; len(subs) > 0 {
			cond += "; and not __fish_seen_subcommand_from " + strings.Join(subs, " ")
		}
		for _, f := range n.flags {
			fmt.Fprintf(&b, "complete -c sequencer -n %s -l %s", fishQuote(cond), f.name)
			if f.value {
				// A value is often a file or directory: let fish offer them.
				b.WriteString(" -r -F")
			}
			if f.usage != "" {
				fmt.Fprintf(&b, " -d %s", fishQuote(f.usage))
			}
			b.WriteString("\n")
		}
	}
	io.WriteString(w, b.String())
}

// fishQuote single-quotes s for fish, where only \ and ' are special.
func fishQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}
