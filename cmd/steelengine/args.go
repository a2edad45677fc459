package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// hoistFlags lets flags follow positional arguments (`workflows run ID --input '{}'`):
// urfave/cli v2 stops reading flags at the first positional, so the leaf command's
// flags found after one are moved in front of it. Everything after "--" stays as is.
func hoistFlags(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	cmds, flags := app.Commands, app.Flags
	i := 1
	var leaf *cli.Command
	for i < len(args) {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			i += flagWidth(flags, a, args, i)
			continue
		}
		next := findCommand(cmds, a)
		if next == nil {
			break
		}
		leaf, cmds, flags = next, next.Subcommands, next.Flags
		i++
	}
	if leaf == nil || i >= len(args) {
		return args
	}
	var moved, positional []string
	for j := i; j < len(args); j++ {
		a := args[j]
		if a == "--" {
			positional = append(positional, args[j:]...)
			break
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			w := flagWidth(flags, a, args, j)
			moved = append(moved, args[j:j+w]...)
			j += w - 1
			continue
		}
		positional = append(positional, a)
	}
	out := append([]string{}, args[:i]...)
	out = append(out, moved...)
	return append(out, positional...)
}

// flagWidth is how many arguments the flag at args[i] uses: 1, or 2 when it takes a
// value given separately.
func flagWidth(flags []cli.Flag, a string, args []string, i int) int {
	name := strings.TrimLeft(a, "-")
	if strings.Contains(name, "=") {
		return 1
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if _, isBool := f.(*cli.BoolFlag); isBool {
				return 1
			}
			if i+1 < len(args) {
				return 2
			}
			return 1
		}
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
