package migrate

import (
	"fmt"

	"github.com/popgate/popgate/backend/uidl"
)

// Scheme names how the legacy server computed UIDLs.
type Scheme string

// The schemes Import understands.
const (
	// SchemeAuto uses SchemeXUIDL for a spool holding any X-UIDL header and
	// SchemePopa3d for one without.
	SchemeAuto Scheme = "auto"
	// SchemeXUIDL serves the stored X-UIDL header verbatim, as qpopper 2.x
	// and Dovecot with pop3_reuse_xuidl do.
	SchemeXUIDL Scheme = "xuidl"
	// SchemeQpopperXUIDL is a default qpopper 3.x/4.x: computed UIDLs are
	// random per session, so only stored X-UIDL headers qpopper 4.x accepts
	// (13 to 32 octets with the line end) count; other messages are
	// problems.
	SchemeQpopperXUIDL Scheme = "qpopper-xuidl"
	// SchemeQpopperHex is qpopper 2.x (and 4.x old-style-uid without
	// stored values): a stored X-UIDL wins, otherwise 32 hex of the MD5.
	SchemeQpopperHex Scheme = "qpopper-hex"
	// SchemeQpopperBase80 is qpopper 3.x/4.x with update-status-headers
	// off: a stored X-UIDL within 4.x's bounds wins, otherwise the
	// deterministic base80 hash.
	SchemeQpopperBase80 Scheme = "qpopper-base80"
	// SchemePopa3d is popa3d 1.0's header MD5.
	SchemePopa3d Scheme = "popa3d"
)

// ParseScheme returns the scheme named s; empty means SchemeAuto.
func ParseScheme(s string) (Scheme, error) {
	switch sc := Scheme(s); sc {
	case "":
		return SchemeAuto, nil
	case SchemeAuto, SchemeXUIDL, SchemeQpopperXUIDL, SchemeQpopperHex, SchemeQpopperBase80, SchemePopa3d:
		return sc, nil
	}
	return "", fmt.Errorf("unknown UIDL scheme %q (want auto, xuidl, qpopper-xuidl, qpopper-hex, qpopper-base80 or popa3d)", s)
}

// qpopper 4.x do_drop_copy accepts a stored X-UIDL of 13 to 32 octets,
// its line end included.
const qpopperMinXUIDL, qpopperMaxXUIDL = 13, 32

// legacyUIDL returns the UIDL the legacy server showed for m, or a reason
// why it cannot be known.
func (s Scheme) legacyUIDL(m spoolMsg) (string, error) {
	stored := func(bounded bool) (string, bool) {
		if !m.HasXUIDL || !uidl.Valid(m.XUIDL) {
			return "", false
		}
		if bounded && (m.XUIDLLen < qpopperMinXUIDL || m.XUIDLLen > qpopperMaxXUIDL) {
			return "", false
		}
		return m.XUIDL, true
	}
	switch s {
	case SchemePopa3d:
		return m.Popa3d, nil
	case SchemeQpopperHex:
		if v, ok := stored(false); ok {
			return v, nil
		}
		return m.QpopperHex, nil
	case SchemeQpopperBase80:
		if v, ok := stored(true); ok {
			return v, nil
		}
		return m.QpopperBase80, nil
	case SchemeXUIDL, SchemeQpopperXUIDL:
		if v, ok := stored(s == SchemeQpopperXUIDL); ok {
			return v, nil
		}
		if m.HasXUIDL {
			return "", fmt.Errorf("X-UIDL header %q not usable", m.XUIDL)
		}
		return "", fmt.Errorf("no X-UIDL header")
	}
	return "", fmt.Errorf("scheme %q", s)
}
