package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner): placeholder until the migrate command lands.
func newMigrateCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:    "migrate",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("migrate: not implemented yet")
		},
	}
}
