package main

import (
	"github.com/spf13/cobra"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func (a *app) newPurgeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "purge ID",
		Short: "Drop the gateway's cached record of an object",
		Long: `Drop the gateway's cached record of an object, so that the next retrieve fetches it
afresh. Binary envelope only: standard DOIP has no purge.`,
		Example: `  doipctl purge Q123`,
		Args:    oneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.do(cmd.Context(), call{req: client.Request{Op: doip.OpPurge, ObjectID: args[0]}})
		},
	}
}
