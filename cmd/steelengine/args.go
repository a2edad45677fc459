package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// hoistFlags lets every flag go anywhere on the command line: urfave/cli v2 reads a
// command's flags only right after its name and stops at the first positional, so the
// arguments are put into that order first. Each flag goes to the deepest command on
// the path that defines it (so `keys create --rate-limit` stays the key's, not the
// global default), else to the app when it is global (`serve --data-dir D`,
// `keys list --json`); an unknown flag goes to the last command, which reports it.
// Everything after "--" stays as is.
func hoistFlags(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	var (
		path       []*cli.Command
		global     []string
		own        = map[int][]string{} // flags per depth of path
		positional []string
	)
	cmds := app.Commands
	for i := 1; i < len(args); {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i:]...)
			break
		}
		if len(a) > 1 && strings.HasPrefix(a, "-") {
			depth, f := flagOwner(app, path, a)
			w := flagWidth(f, a, args, i)
			if depth < 0 {
				global = append(global, args[i:i+w]...)
			} else {
				own[depth] = append(own[depth], args[i:i+w]...)
			}
			i += w
			continue
		}
		if len(positional) == 0 {
			if next := findCommand(cmds, a); next != nil {
				path = append(path, next)
				cmds = next.Subcommands
				i++
				continue
			}
		}
		positional = append(positional, a)
		i++
	}
	out := append([]string{args[0]}, global...)
	for d, cmd := range path {
		out = append(out, cmd.Name)
		out = append(out, own[d]...)
	}
	return append(out, positional...)
}

// flagOwner finds who defines the flag in arg: the index of the deepest command on
// path, or -1 for the app. Unknown flags belong to the last command (-1 without one).
func flagOwner(app *cli.App, path []*cli.Command, arg string) (int, cli.Flag) {
	name := strings.TrimLeft(arg, "-")
	if i := strings.IndexByte(name, '='); i >= 0 {
		name = name[:i]
	}
	for d := len(path) - 1; d >= 0; d-- {
		if f := lookupFlag(path[d].Flags, name); f != nil {
			return d, f
		}
	}
	if f := lookupFlag(app.Flags, name); f != nil {
		return -1, f
	}
	return len(path) - 1, nil
}

func lookupFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// flagWidth is how many arguments the flag at args[i] uses: 1, or 2 when it takes a
// value given separately.
func flagWidth(f cli.Flag, a string, args []string, i int) int {
	if f == nil || strings.Contains(a, "=") {
		return 1
	}
	if _, isBool := f.(*cli.BoolFlag); isBool {
		return 1
	}
	if i+1 < len(args) {
		return 2
	}
	return 1
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
