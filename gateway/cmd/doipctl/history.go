package main

import (
	"github.com/spf13/cobra"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func (a *app) newHistoryCmd() *cobra.Command {
	var (
		pageSize  int
		pageToken string
	)
	cmd := &cobra.Command{
		Use:   "history ID",
		Short: "List an object's versions, newest first",
		Long: `List the versions of an object: each commit that changed it, with its time, author,
message and what changed, newest first. Pass a page's nextPageToken to --page-token for the
next page. Any version can be read with retrieve --version.`,
		Example: `  doipctl history Q99123456789
  doipctl history Q123 --page-size 5 --page-token 3f2a…`,
		Args: oneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			meta := map[string]any{"operation": "history"}
			params := map[string]any{}
			if pageSize > 0 {
				meta["pageSize"], params["pageSize"] = pageSize, pageSize
			}
			if pageToken != "" {
				meta["pageToken"], params["pageToken"] = pageToken, pageToken
			}
			return a.do(cmd.Context(), call{
				req: client.Request{Op: doip.OpHistory, ObjectID: args[0], Metadata: meta},
				std: &client.StdRequest{TargetID: args[0], OperationID: "history", Attributes: params},
			})
		},
	}
	cmd.Flags().IntVar(&pageSize, "page-size", 0, "versions per page, 1 to 1000 (default 50)")
	cmd.Flags().StringVar(&pageToken, "page-token", "", "the nextPageToken of the page before")
	return cmd
}
