package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner): placeholder until the convert command lands.
func newConvertCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:    "convert",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("convert: not implemented yet")
		},
	}
}
