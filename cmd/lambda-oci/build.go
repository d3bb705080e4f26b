package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner): placeholder until the build command lands.
func newBuildCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:    "build",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("build: not implemented yet")
		},
	}
}
