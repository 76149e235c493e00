package demo

import (
	"fmt"
	"mime"
	"strings"
	"time"
)

// message is one demo message, written with LF line ends as Maildir
// messages are stored.
type message struct {
	subject string
	body    string
	utf8    bool // 8-bit UTF-8 body, declared in the headers
}

var messages = []message{
	{
		subject: "Welcome to popgate",
		body: `Hello,

this message comes from popgate's native backend: a Maildir under the
data directory, served over POP3. popgate is a protocol-aware POP3
reverse proxy. It sits in front of an old POP3 server and lets you
replace it without your users noticing:

  * messages keep their unique-ids (UIDLs) when a user moves to a new
    server, so "leave mail on server" clients do not download
    everything again;
  * polls of big mailboxes cost what is new, not the whole mailbox;
  * every session is one log line that says who, from where, what was
    retrieved and, when something failed, which mailbox and why;
  * users can be throttled, and passwords checked against the old
    server until they are moved.

Try a real client against this demo, for example:

  curl -u demo:demo pop3://127.0.0.1:1110/      (list the messages)
  curl -u demo:demo pop3://127.0.0.1:1110/1     (retrieve this one)

To serve real mail, point POPGATE_BACKENDS at your old server
(pop3://host:110) or at your spools (mbox:///var/mail/%u,
maildir:///srv/mail/%u/Maildir). The README lists every setting.

-- popgate
`,
	},
	{
		subject: "Lines that start with a dot",
		body: `POP3 ends a message with a line holding a single dot, so a server
must double every dot that starts a line, and the client must remove
it again. The lines below must reach you exactly as written:

.
..
.hidden
. a dot and a space
...three

If the first of them is missing, or you see two dots where one should
be, something between this server and your client is broken.
`,
	},
	{
		subject: "Grüße aus dem Maildir: 8-bit UTF-8",
		utf8:    true,
		body: `This message is UTF-8, sent as 8-bit bytes with no transfer encoding.

Deutsch:  Grüße aus Köln, schöne Straße.
Français: déjà vu, garçon, œuvre.
Ελληνικά: Καλημέρα κόσμε.
Русский:  Привет, мир.
日本語:   こんにちは世界。
Symbols:  € £ ¥ → ✓ ♥

POP3 carries these bytes untouched; your client decodes them.
`,
	},
}

// render returns the whole message: headers, a blank line and the body.
func (m message) render(n int, date time.Time) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: popgate <postmaster@popgate.invalid>\n")
	fmt.Fprintf(&b, "To: %s <%s@localhost>\n", User, User)
	fmt.Fprintf(&b, "Subject: %s\n", mime.QEncoding.Encode("UTF-8", m.subject))
	fmt.Fprintf(&b, "Date: %s\n", date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <demo-%d.%d@popgate.invalid>\n", date.Unix(), n)
	b.WriteString("MIME-Version: 1.0\n")
	if m.utf8 {
		b.WriteString("Content-Type: text/plain; charset=utf-8\n")
		b.WriteString("Content-Transfer-Encoding: 8bit\n")
	} else {
		b.WriteString("Content-Type: text/plain; charset=us-ascii\n")
		b.WriteString("Content-Transfer-Encoding: 7bit\n")
	}
	b.WriteString("\n")
	b.WriteString(m.body)
	return []byte(b.String())
}
