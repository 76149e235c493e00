package demo

import (
	"fmt"
	"strings"
)

// HowToConnect returns instructions for a person, for the POP3 server
// listening on addr (host:port).
func (i Info) HowToConnect(addr string) string {
	var b strings.Builder
	if i.Created {
		fmt.Fprintf(&b, "Created a demo maildrop in %s with %d messages.\n", i.DataDir, i.Messages)
	}
	fmt.Fprintf(&b, "Users are in %s", i.UsersFile)
	login := "USER:PASSWORD"
	if i.HasDemoUser {
		fmt.Fprintf(&b, " (user %q, password %q unless changed)", User, Password)
		login = User + ":" + Password
	}
	b.WriteString(".\nTry it:\n")
	fmt.Fprintf(&b, "  curl -u %s pop3://%s/      list the messages\n", login, addr)
	fmt.Fprintf(&b, "  curl -u %s pop3://%s/1     retrieve message 1\n", login, addr)
	return b.String()
}
