package main

import (
	"github.com/spf13/cobra"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func (a *app) newRetrieveCmd() *cobra.Command {
	var component, output, version string
	cmd := &cobra.Command{
		Use:   "retrieve ID",
		Short: "Print an object's FDO record, or download one of its components",
		Long: `Print an object's FDO record as JSON, or, with --component, download one of its
components.

Component bytes go to -o FILE (written to a temporary file and renamed when complete, so a
failed download leaves nothing) with a progress bar on a terminal. Without -o they go to
stdout, unless stdout is a terminal and the bytes are binary: then doipctl stops and asks
for -o FILE (-o - writes to stdout regardless).

With --version, the record or component is read as it was at that version: a commit id, a
tag or a branch on lakeFS, a commit id on the folder backend (the "version" of a record, of
an invoke result, or of a derived component names one).`,
		Example: `  doipctl retrieve Q123
  doipctl retrieve Q123 --component main-pdf -o paper.pdf
  doipctl retrieve Q123 --component source.tex | less
  doipctl retrieve Q123 --component doip:bitstream/Q123/source.tex -o source.tex
  doipctl retrieve Q123 --component equations.json --version 433bad67…   # as it was at a commit`,
		Args: oneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			c := call{
				req:       client.Request{Op: doip.OpRetrieve, ObjectID: args[0], Metadata: map[string]any{}},
				std:       &client.StdRequest{TargetID: args[0], OperationID: "0.DOIP/Op.Retrieve"},
				component: component,
				output:    output,
			}
			attrs := map[string]any{}
			if component != "" {
				c.req.Metadata["element"] = component
				attrs["element"] = component
			}
			if version != "" {
				c.req.Metadata["version"] = version
				attrs["version"] = version
			}
			if len(attrs) > 0 {
				c.std.Attributes = attrs
			}
			return a.do(cmd.Context(), c)
		},
	}
	cmd.Flags().StringVar(&component, "component", "", "the component `ID` to download (e.g. main-pdf)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the component's bytes to this `FILE` (- for stdout)")
	cmd.Flags().StringVar(&version, "version", "", "read the object as it was at this `VERSION` (a commit id, tag or branch)")
	return cmd
}
