package main

import (
	"github.com/spf13/cobra"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func (a *app) newUpdateCmd() *cobra.Command {
	var (
		w                   = writeCall{op: doip.OpUpdate}
		files               []string
		attributes, content string
	)
	cmd := &cobra.Command{
		Use:   "update ID",
		Short: "Change an object's attributes or add, replace and remove its files",
		Long: `Change an object in one commit: replace its record (--content) or attributes
(--attributes), add or replace elements (--file), remove elements (--remove). With
--expect-version (the version a retrieve showed), the update is refused if the object changed
since. Objects of the FDO façade take --file only.`,
		Example: `  doipctl update Q99123456789 --user alice --file data.csv
  doipctl update Q99123456789 --token "$TOKEN" --content '{"name":"Renamed"}' --expect-version 3f2a…
  doipctl update Q99123456789 --token "$TOKEN" --remove old.csv`,
		Args: oneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			w.objectID = args[0]
			if err := w.fill(attributes, content, files); err != nil {
				return err
			}
			if w.attributes == nil && len(w.files) == 0 && len(w.remove) == 0 && w.objType == "" {
				return usagef("nothing to change: give --content, --attributes, --file or --remove")
			}
			return a.write(cmd.Context(), w)
		},
	}
	f := cmd.Flags()
	f.StringVar(&w.objType, "type", "", "a new type")
	f.StringVar(&content, "content", "", "the new record: a JSON object (or @FILE), stored as attributes.content")
	f.StringVar(&attributes, "attributes", "", "the new attributes object: JSON (or @FILE)")
	f.StringArrayVar(&files, "file", nil, "an element to add or replace: [ID=]PATH (repeatable)")
	f.StringArrayVar(&w.remove, "remove", nil, "an element id to remove (repeatable)")
	f.StringVar(&w.expected, "expect-version", "", "refuse the update if the object changed since this `VERSION`")
	a.addCredentialFlags(cmd, &w.creds)
	return cmd
}
