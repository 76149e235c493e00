package app

import "runtime/debug"

// Version is the release "popgate version" reports; cmd/popgate sets it from
// its link-time buildVersion. When empty, the module version and VCS
// revision the binary was built from are reported instead.
var Version = ""

// version returns the release, or the module version and VCS revision the
// binary was built from.
func version() string {
	if Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
		if s.Key == "vcs.modified" && s.Value == "true" {
			v += "+dirty"
		}
	}
	return v
}
