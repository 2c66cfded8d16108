package main

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func (a *app) newInvokeCmd() *cobra.Command {
	var workflow, params, output string
	cmd := &cobra.Command{
		Use:   "invoke ID --workflow NAME",
		Short: "Run a workflow on an object",
		Long: `Run a workflow on an object and print its result as JSON. doipctl hello lists the
workflows; doipctl list-ops ID lists those that apply to one object.

Derived components are summarised in the JSON; with -o DIR their bytes are written into
that folder, which must exist (it is checked before the workflow runs).`,
		Example: `  doipctl invoke Q123 --workflow echo --params '{"hello":"world"}'
  doipctl invoke Q123 --workflow equation_extraction
  doipctl invoke Q123 --workflow equation_extraction --params '{"pages":[1,2]}' -o out/`,
		Args: oneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			if workflow == "" {
				return usagef("invoke needs --workflow NAME (doipctl list-ops %s lists the workflows)", args[0])
			}
			c := call{
				req:    client.Request{Op: doip.OpInvoke, ObjectID: args[0], Metadata: map[string]any{"workflow": workflow}},
				std:    &client.StdRequest{TargetID: args[0], OperationID: workflow},
				output: output,
			}
			if params != "" {
				var p map[string]any
				if err := json.Unmarshal([]byte(params), &p); err != nil {
					return usagef(`--params must be a JSON object, such as '{"pages":[1]}': %v`, err)
				}
				c.req.Metadata["params"], c.std.Input = p, p
			}
			return a.do(cmd.Context(), c)
		},
	}
	cmd.Flags().StringVar(&workflow, "workflow", "", "the workflow `NAME` (e.g. equation_extraction)")
	cmd.Flags().StringVar(&params, "params", "", "the workflow's parameters as a `JSON` object")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the derived components into this existing `DIR` (not with --standard)")
	_ = cmd.RegisterFlagCompletionFunc("workflow", cobra.FixedCompletions([]string{"equation_extraction", "echo"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}
