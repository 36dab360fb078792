package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newConfigCommand is `archiver config validate`.
func newConfigCommand() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Work with the configuration file"}
	var path configFile
	v := &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration file; every problem is listed with its line and field",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := path.load(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n", path)
			return nil
		},
	}
	path.AddFlag(v.Flags())
	c.AddCommand(v)
	return c
}
