package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newConfigCommand is `archiver config validate`.
func newConfigCommand() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Work with the configuration file"}
	var path string
	v := &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration file; every problem is listed with its line and field",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := loadConfig(path); err != nil {
				return usageErrorf("%v", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n", path)
			return nil
		},
	}
	v.Flags().StringVarP(&path, "config", "c", defaultConfigPath, "configuration file [$ARCHIVER_CONFIG]")
	c.AddCommand(v)
	return c
}
