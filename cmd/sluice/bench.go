package main

import "github.com/spf13/cobra"

func benchCmd() *cobra.Command {
	return &cobra.Command{Use: "bench SCENARIO", Short: "Measure sluice on a scenario (chain, fanout, shell-chain, shell-fanout)", Hidden: true}
}
