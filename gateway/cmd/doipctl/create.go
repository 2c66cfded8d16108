package main

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func (a *app) newCreateCmd() *cobra.Command {
	var (
		w                   = writeCall{op: doip.OpCreate}
		files               []string
		attributes, content string
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an object with attributes and files",
		Long: `Create an object: its attributes (--content is the usual record; --attributes the whole
attributes object) and one element per --file, whose bytes are streamed with a progress bar
on a terminal. The gateway makes the id unless --id is given and allowed. Needs an identity
with the write permission: --user and --password, or --token.`,
		Example: `  doipctl create --user alice --content '{"name":"My dataset"}' --file data.csv
  doipctl create --token "$TOKEN" --type Dataset --file table=results.csv --file notes.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := w.fill(attributes, content, files); err != nil {
				return err
			}
			return a.write(cmd.Context(), w)
		},
	}
	f := cmd.Flags()
	f.StringVar(&w.objectID, "id", "", "ask for this id (where the gateway allows client ids)")
	f.StringVar(&w.objType, "type", "", "the object's type, e.g. Dataset")
	f.StringVar(&content, "content", "", "the record: a JSON object (or @FILE), stored as attributes.content")
	f.StringVar(&attributes, "attributes", "", "the whole attributes object: JSON (or @FILE)")
	f.StringArrayVar(&files, "file", nil, "an element: [ID=]PATH (repeatable; the id defaults to the file name)")
	a.addCredentialFlags(cmd, &w.creds)
	return cmd
}

// fill reads the attribute and file flags into w.
func (w *writeCall) fill(attributes, content string, files []string) error {
	var err error
	if w.attributes, err = jsonObject("--attributes", attributes); err != nil {
		return err
	}
	if content != "" {
		if w.attributes != nil {
			return usagef("give --content or --attributes, not both")
		}
		c, err := jsonObject("--content", content)
		if err != nil {
			return err
		}
		w.attributes, _ = json.Marshal(map[string]json.RawMessage{"content": c})
	}
	w.files, err = parseFiles(files)
	return err
}
