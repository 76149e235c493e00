package migrate

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/popgate/popgate/store"
)

// Show writes user's legacy map to w, one message per line in legacy
// order (messages gone from the legacy server last), then the pairs
// resolved on each of backends.
func Show(ctx context.Context, w io.Writer, st store.UIDLStore, user string, backends ...string) error {
	es, err := st.Legacy(ctx, user)
	if err != nil {
		return err
	}
	slices.SortFunc(es, func(a, b store.Entry) int {
		if a.Gone != b.Gone {
			if a.Gone {
				return 1
			}
			return -1
		}
		if a.Seq != b.Seq {
			return a.Seq - b.Seq
		}
		return a.Dup - b.Dup
	})
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "SEQ\tLEGACY UIDL\tSTATE\tFINGERPRINT\n")
	for _, e := range es {
		state := "present"
		if e.Gone {
			state = "gone"
		}
		if e.Dup > 0 {
			state += fmt.Sprintf(",dup%d", e.Dup)
		}
		fp := e.Fingerprint
		if fp == "" {
			fp = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", e.Seq, e.UIDL, state, fp)
	}
	fmt.Fprintf(tw, "%d legacy messages\n", len(es))
	for _, b := range backends {
		pairs, err := st.Pairs(ctx, user, b)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "\nBACKEND %s UIDL\tSHOWN AS\tMAPPED\n", b)
		keys := make([]string, 0, len(pairs))
		for k := range pairs {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, strings.Compare)
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%v\n", k, pairs[k].UIDL, pairs[k].Mapped)
		}
	}
	return tw.Flush()
}
