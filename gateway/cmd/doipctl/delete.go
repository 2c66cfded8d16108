package main

import (
	"github.com/spf13/cobra"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func (a *app) newDeleteCmd() *cobra.Command {
	var (
		creds    credentials
		expected string
	)
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an object made through the gateway",
		Long: `Delete an object made through the gateway, its record and elements, in one commit.
Its earlier versions stay readable with retrieve --version. Objects of the FDO façade cannot
be deleted.`,
		Example: `  doipctl delete Q99123456789 --user alice`,
		Args:    oneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			meta := map[string]any{"operation": "delete"}
			if expected != "" {
				meta["expectedVersion"] = expected
			}
			creds.meta(meta)
			std := &client.StdRequest{TargetID: args[0], OperationID: "0.DOIP/Op.Delete"}
			if expected != "" {
				std.Attributes = map[string]any{"expectedVersion": expected}
			}
			std.Authentication = creds.std()
			return a.do(cmd.Context(), call{req: client.Request{Op: doip.OpDelete, ObjectID: args[0], Metadata: meta}, std: std})
		},
	}
	cmd.Flags().StringVar(&expected, "expect-version", "", "refuse the delete if the object changed since this `VERSION`")
	a.addCredentialFlags(cmd, &creds)
	return cmd
}
