package main

import (
	"io"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/engine"
)

func blocksCommand() *cli.Command {
	return &cli.Command{
		Name:  "blocks",
		Usage: "list the block types SteelEngine runs (deploy refuses reachable blocks of other types)",
		Action: func(c *cli.Context) error {
			types := engine.BlockTypes()
			return printOut(c, types, func(w io.Writer) {
				row(w, "TYPE", "CATEGORY", "NAME", "NOTES")
				for _, t := range types {
					row(w, t.Type, t.Category, t.Name, t.Notes)
				}
			})
		},
	}
}
