package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner): placeholder until the runtimes command lands.
func newRuntimesCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:    "runtimes",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("runtimes: not implemented yet")
		},
	}
}
