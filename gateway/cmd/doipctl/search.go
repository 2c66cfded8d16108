package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// searchFlags are the options of doipctl search.
type searchFlags struct {
	profileType, sort, service string
	limit, page, pageSize      int
	ids                        bool
}

func (a *app) newSearchCmd() *cobra.Command {
	var f searchFlags
	cmd := &cobra.Command{
		Use:   "search QUERY",
		Short: "Find objects by their metadata, and papers by their formulas",
		Long: `Find objects by a query in Lucene's syntax, as Cordra takes it: words, field:value,
"phrases", AND/OR/NOT, +required -excluded, (groups), field:[from TO to] ranges. Fields:
id, type, title, author, keyword, modified, and every attribute of the record by its path
(profile.datePublished, or /profile/datePublished). formula:"LaTeX" finds the papers whose
extracted equations contain the formula, whatever its spacing, \left/\right and variable
names, and names the equation and its page.

The binary envelope answers as MaRDI's server does ({"results":[{"qid","title",…}]}, at most
--limit, optionally of one --type); with --standard, the answer is {"size":N,"results":[…]}
of whole objects, or of ids with --ids, a page at a time (--page, --page-size, --sort).`,
		Example: `  doipctl search 'title:trapezoidal'
  doipctl search 'formula:"\int_a^b f(x)\,dx"'
  doipctl search Conrad --type person --limit 5
  doipctl --standard --insecure search 'type:ScholarlyArticle AND author:lindqvist' --ids --page-size 20 --sort '/profile/datePublished DESC'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.do(cmd.Context(), searchCall(args[0], f))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.profileType, "type", "", "binary: only objects of this profile `TYPE` (publication, person, dataset, software, …, or a QID)")
	fl.IntVar(&f.limit, "limit", 10, "binary: at most `N` results (1 to 50)")
	fl.IntVar(&f.page, "page", 0, "with --standard: the zero-based page `N`")
	fl.IntVar(&f.pageSize, "page-size", -1, "with --standard: `N` results per page (-1: the service's page)")
	fl.StringVar(&f.sort, "sort", "", "with --standard: sort `FIELDS`, comma-separated, each optionally followed by DESC")
	fl.BoolVar(&f.ids, "ids", false, "with --standard: ids only, not whole objects")
	serviceFlag(cmd, &f.service)
	return cmd
}

// searchCall is a search in both forms: MaRDI's metadata for the binary envelope, and the
// standard attributes of 0.DOIP/Op.Search.
func searchCall(query string, f searchFlags) call {
	meta := map[string]any{"query": query, "limit": f.limit}
	if f.profileType != "" {
		meta["type"] = f.profileType
	}
	attrs := map[string]any{"query": query, "pageNum": f.page, "pageSize": f.pageSize, "type": "full"}
	if f.ids {
		attrs["type"] = "id"
	}
	if s := strings.TrimSpace(f.sort); s != "" {
		attrs["sortFields"] = s
	}
	return call{
		req: client.Request{Op: doip.OpSearch, Metadata: meta},
		std: &client.StdRequest{TargetID: f.service, OperationID: "0.DOIP/Op.Search", Attributes: attrs},
	}
}
