package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"
)

func (a *app) newHashPasswordCmd() *cobra.Command {
	var name, perms string
	cmd := &cobra.Command{
		Use:   "hash-password",
		Short: "Make a USERS entry: a bcrypt hash of a password read from stdin",
		Long: `Read a password from the first line of stdin and print a USERS entry for the gateway,
name:bcrypt-hash:permissions, so that the configuration holds no password in the clear.`,
		Example: `  printf '%s\n' "$PASSWORD" | doipctl hash-password --name alice --permissions read+write`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
			pw := strings.TrimRight(line, "\r\n")
			if pw == "" {
				return usagef("no password on stdin: pipe it in, e.g. printf '%%s\\n' \"$PASSWORD\" | doipctl hash-password --name %s (%v)", name, err)
			}
			h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "%s:%s:%s\n", name, h, perms)
			return err
		},
	}
	cmd.Flags().StringVar(&name, "name", "admin", "the user's name")
	cmd.Flags().StringVar(&perms, "permissions", "read+write", "read, invoke, write, admin joined by +")
	return cmd
}
