package poison

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/session"
	"github.com/popgate/popgate/store"
)

// Report implements session.Reporter: at the end of the session it counts
// a transfer the client broke off, or clears the streak after a session
// that ended well, and flags a message that reached the limit.
func (w *watch) Report(r *session.Record) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), storeTimeout)
	defer cancel()
	broken := r.Broken != nil && (r.Result == session.ResultClientGone || r.Result == session.ResultTimeout)
	ended := r.Result == "" || r.Result == session.ResultOK
	if !broken && !ended || !broken && w.read && w.breaks.Streak.UIDL == "" {
		return
	}
	// Read (again): an operator may have released a message meanwhile.
	b, err := w.o.Store.Breaks(ctx, w.user)
	if err != nil {
		w.o.logger().Warn("poison: reading the user's broken transfers", zap.String("user", w.user), zap.Error(err))
		return
	}
	w.breaks = b
	switch {
	case broken:
		w.broke(ctx, r)
	case b.Streak.UIDL != "":
		w.breaks.Streak = store.BrokenMessage{}
		w.save(ctx)
	}
}

// broke counts the broken transfer of r.Broken.Num.
func (w *watch) broke(ctx context.Context, r *session.Record) {
	n := r.Broken.Num
	if n != w.lastNum {
		return // a notice, or a message this Mailbox did not send
	}
	// Ask the backend, which still answers after a transfer the client
	// broke off (Dovecot and the native backend do).
	var uid string
	if ids, err := w.Mailbox.Uidl(ctx, n); err == nil && len(ids) == 1 {
		uid = ids[0].UID
	}
	if w.lastSize < 0 && uid != "" {
		if list, err := w.Mailbox.List(ctx, n); err == nil && len(list) == 1 {
			w.lastSize = list[0].Size
		}
	}
	if uid == "" {
		w.o.logger().Debug("poison: broken transfer of a message with no known unique-id",
			zap.String("user", w.user), zap.Int("msg_num", n))
		return
	}
	now := w.o.now()
	s := w.breaks.Streak
	if s.UIDL != uid {
		s = store.BrokenMessage{UIDL: uid, First: now}
	}
	s.Num, s.Breaks, s.Last, s.Client = n, s.Breaks+1, now, w.client
	s.Size = max(w.lastSize, 0)
	if id, subject := headerFields(w.head.Bytes()); id != "" || subject != "" {
		s.MessageID, s.Subject = id, subject
	}
	w.breaks.Streak = s
	if s.Breaks >= w.o.Limit && !w.breaks.IsPoison(uid) {
		w.breaks.Poison = append(w.breaks.Poison, s)
		w.o.flagged(w.user, w.backend, s)
		r.Poison = &session.Poison{Num: n, UIDL: uid}
	}
	w.save(ctx)
}

func (w *watch) save(ctx context.Context) {
	if err := w.o.Store.SetBreaks(ctx, w.user, w.breaks); err != nil {
		w.o.logger().Warn("poison: saving the user's broken transfers", zap.String("user", w.user), zap.Error(err))
	}
}

// noticeFor is the text served instead of the held message mi (Action
// replace): a short message with CRLF line ends.
func (o *Options) noticeFor(b store.Breaks, mi pop3.MsgInfo) []byte {
	var p store.BrokenMessage
	for _, x := range b.Poison {
		if x.UIDL == mi.UID {
			p = x
		}
	}
	what := "a message"
	if p.Subject != "" {
		what = fmt.Sprintf("the message %q", p.Subject)
	}
	host := o.Hostname
	if host == "" {
		host = "localhost"
	}
	lines := []string{
		"From: Mail system <postmaster@" + host + ">",
		"Subject: A message was held for you",
		"Date: " + o.now().Format(time.RFC1123Z),
		"Message-ID: <" + heldUIDL(mi.UID) + "@" + host + ">",
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=utf-8",
		"",
		fmt.Sprintf("Your mail program stopped %d times in a row while downloading", p.Breaks),
		fmt.Sprintf("%s (%d octets).", what, mi.Size),
		"",
		"So that you receive the rest of your mail, it is held on the server",
		"and this note is shown in its place. Please contact your mail",
		"administrator: they can look at it and release it.",
	}
	if p.MessageID != "" {
		lines = append(lines, "", "Message-ID of the held message: "+p.MessageID)
	}
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}
