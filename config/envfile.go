package config

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
)

// EnvFileVar names a file of POPGATE_* variables, read at start and again
// on each reload, so that a reload can change the settings that may change
// in a running server. Its syntax is that of systemd's EnvironmentFile
// (KEY=VALUE lines, '#' and ';' comments, optional quotes), so the unit's
// EnvironmentFile can be named here too.
const EnvFileVar = Prefix + "ENV_FILE"

// WithEnvFile returns environ with the variables of the file that
// POPGATE_ENV_FILE names, if any, appended: they win over the process
// environment.
func WithEnvFile(environ []string) ([]string, error) {
	path := ""
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, EnvFileVar+"="); ok {
			path = v
		}
	}
	if path == "" {
		return environ, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return environ, &VarError{Var: EnvFileVar, Err: err}
	}
	vars, err := parseEnvFile(data)
	if err != nil {
		return environ, &VarError{Var: EnvFileVar, Err: fmt.Errorf("%s: %w", path, err)}
	}
	return append(append([]string(nil), environ...), vars...), nil
}

func parseEnvFile(data []byte) ([]string, error) {
	var vars []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("line %d: want NAME=VALUE", n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		vars = append(vars, k+"="+v)
	}
	return vars, sc.Err()
}
