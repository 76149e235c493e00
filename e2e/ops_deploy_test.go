package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/popgate/popgate/backend"
	"github.com/popgate/popgate/config"
	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/routes"
	"github.com/popgate/popgate/upstream"
)

// repoRoot is the module's root directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// composeFile is the part of docker-compose.yml the test looks at.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

// composeService is one service of a compose file.
type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	User        string            `yaml:"user"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// TestComposeFile checks docker-compose.yml: with a compose client (see
// composeConfig), and by reading it: every service it
// depends on exists, named volumes are declared, bind-mounted files exist,
// both servers have health checks, and popgate's environment is a valid
// configuration whose backends and routes file load.
func TestComposeFile(t *testing.T) {
	root := repoRoot(t)
	cf := loadCompose(t, root, "docker-compose.yml")
	for _, name := range []string{"popgate", "legacy"} {
		s, ok := cf.Services[name]
		if !ok {
			t.Fatalf("no %s service", name)
		}
		if s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 {
			t.Errorf("service %s has no health check", name)
		}
	}
	checkServices(t, root, cf)
	pg := cf.Services["popgate"]
	if pg.Build == nil {
		t.Error("popgate is not built from the Dockerfile")
	}
	if !slices.Contains(pg.Volumes, "state:/var/lib/popgate") {
		t.Errorf("popgate's state is not on a named volume: %v", pg.Volumes)
	}
	if pg.Healthcheck != nil && pg.Healthcheck.Test[len(pg.Healthcheck.Test)-2] != "health" {
		t.Errorf("popgate's health check %v does not use popgate health", pg.Healthcheck.Test)
	}
	popgateConfig(t, root, pg)
}

// loadCompose validates the compose file name (see composeConfig) and
// reads it.
func loadCompose(t *testing.T, root, name string) composeFile {
	t.Helper()
	composeConfig(t, root, name)
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.NewDecoder(strings.NewReader(string(b))).Decode(&cf); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return cf
}

// checkServices checks that every service a service depends on exists,
// that named volumes are declared and bind-mounted files exist.
func checkServices(t *testing.T, root string, cf composeFile) {
	t.Helper()
	for name, s := range cf.Services {
		for dep := range s.DependsOn {
			if _, ok := cf.Services[dep]; !ok {
				t.Errorf("service %s depends on unknown %s", name, dep)
			}
		}
		for _, v := range s.Volumes {
			src, _, ok := strings.Cut(v, ":")
			if !ok {
				t.Errorf("service %s: volume %q has no target", name, v)
				continue
			}
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("service %s mounts a missing %s", name, src)
				}
			} else if _, ok := cf.Volumes[src]; !ok {
				t.Errorf("service %s uses undeclared volume %s", name, src)
			}
		}
	}
}

// popgateConfig checks that a popgate service's environment, with the
// mounted routes file at its place in the repository, is a valid
// configuration whose backends and routes load, and returns it.
func popgateConfig(t *testing.T, root string, pg composeService) config.Config {
	t.Helper()
	environ := []string{}
	routesFile := ""
	for k, v := range pg.Environment {
		if k == "POPGATE_ROUTES" {
			for _, m := range pg.Volumes {
				if src, dst, _ := strings.Cut(m, ":"); strings.HasPrefix(dst, v) {
					routesFile = filepath.Join(root, src)
				}
			}
			v = routesFile
		}
		environ = append(environ, k+"="+v)
	}
	cfg, err := config.Load(environ)
	if err != nil {
		t.Fatalf("popgate's environment: %v", err)
	}
	for _, be := range cfg.Backends {
		switch be.URL.Scheme {
		case config.SchemePOP3, config.SchemePOP3S:
			o, err := upstream.FromURL(be.Name, be.URL)
			if err != nil {
				t.Errorf("backend %s: %v", be.Name, err)
			}
			// The legacy Dovecot must see the client addresses, on the
			// listener that expects them.
			conf, _ := os.ReadFile(filepath.Join(root, "deploy/compose/dovecot.conf"))
			listener := "port = " + be.URL.Port() + "\n    haproxy = yes"
			if !o.ProxyProtocol || !strings.Contains(string(conf), listener) {
				t.Errorf("backend %s: proxy_protocol %v, and dovecot.conf has no haproxy listener on port %s", be.Name, o.ProxyProtocol, be.URL.Port())
			}
		default:
			if _, err := backend.FromURL(be.Name, be.URL, t.TempDir()); err != nil {
				t.Errorf("backend %s: %v", be.Name, err)
			}
		}
	}
	if routesFile == "" {
		t.Fatal("the routes file is not mounted")
	}
	if _, err := routes.Load(routesFile, cfg.BackendNames()); err != nil {
		t.Errorf("routes file: %v", err)
	}
	return cfg
}

// composeConfig validates the file with "docker compose config", or with
// Debian's docker-compose when the compose plugin is missing (Debian does
// not package it); like every external program the tests use, a missing
// client skips this part locally and fails it under CI=true. The
// structural checks run either way.
func composeConfig(t *testing.T, root, name string) {
	t.Helper()
	t.Run("compose config", func(t *testing.T) {
		var cmd *exec.Cmd
		if exec.Command("docker", "compose", "version").Run() == nil {
			cmd = exec.Command("docker", "compose", "-f", name, "config", "-q")
		} else {
			cmd = exec.Command(testpeer.Require(t, "docker-compose"), "-f", name, "config", "-q")
		}
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
		}
	})
}

// TestDockerfile checks the image's build: two stages, a static binary, an
// unprivileged user and a health check.
func TestDockerfile(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var from int
	var static, health bool
	user := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			from++
		case "RUN":
			static = static || strings.Contains(sc.Text(), "CGO_ENABLED=0")
		case "USER":
			user = fields[1]
		case "HEALTHCHECK":
			health = true
		}
	}
	if from < 2 || !static || !health {
		t.Errorf("stages %d, static build %v, health check %v", from, static, health)
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "0" || u == "root" {
		t.Errorf("the image runs as %q", user)
	}
}

// TestSystemdUnits checks that the service is hardened and that the socket
// unit is its socket activation.
func TestSystemdUnits(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "deploy")
	service, err := os.ReadFile(filepath.Join(dir, "popgate.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ExecStart=/usr/local/bin/popgate serve", "ExecReload=/usr/local/bin/popgate reload", "Type=notify",
		"Environment=POPGATE_ENV_FILE=/etc/popgate/popgate.env",
		"DynamicUser=yes", "StateDirectory=popgate", "ProtectSystem=strict", "NoNewPrivileges=yes",
		"CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "PrivateTmp=yes", "SystemCallFilter=@system-service",
	} {
		if !strings.Contains(string(service), "\n"+want+"\n") {
			t.Errorf("popgate.service lacks %q", want)
		}
	}
	socket, err := os.ReadFile(filepath.Join(dir, "popgate.socket"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(socket), "[Socket]\n") || !strings.Contains(string(socket), "\nListenStream=110\n") {
		t.Errorf("popgate.socket does not listen on 110:\n%s", socket)
	}
	env, err := os.ReadFile(filepath.Join(dir, "popgate.env"))
	if err != nil {
		t.Fatal(err)
	}
	var environ []string
	for line := range strings.Lines(string(env)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			environ = append(environ, line)
		}
	}
	if _, err := config.Load(environ); err != nil {
		t.Errorf("popgate.env: %v", err)
	}
}

// TestComposeScaleOutFile checks docker-compose.scale.yml: two popgate
// instances on a shared Redis behind HAProxy, whose configuration the real
// haproxy accepts, sends PROXY v2 headers the instances trust and checks
// each instance's /readyz.
func TestComposeScaleOutFile(t *testing.T) {
	root := repoRoot(t)
	cf := loadCompose(t, root, "docker-compose.scale.yml")
	checkServices(t, root, cf)
	for _, name := range []string{"redis", "haproxy", "legacy"} {
		if _, ok := cf.Services[name]; !ok {
			t.Fatalf("no %s service", name)
		}
	}
	var instances []string
	for name, s := range cf.Services {
		if !strings.HasPrefix(name, "popgate-") {
			continue
		}
		instances = append(instances, name)
		cfg := popgateConfig(t, root, s)
		if !cfg.Store.Shared() || !strings.Contains(cfg.Store.Location, "redis:6379") {
			t.Errorf("%s does not keep its state in the redis service: %v", name, cfg.Store)
		}
		if len(cfg.ProxyProtocolFrom) == 0 {
			t.Errorf("%s does not trust HAProxy's PROXY header", name)
		}
		if _, ok := s.DependsOn["redis"]; !ok {
			t.Errorf("%s does not wait for redis", name)
		}
	}
	if len(instances) < 2 {
		t.Fatalf("%d popgate instances, want at least 2", len(instances))
	}

	cfgFile := filepath.Join(root, "deploy", "compose", "haproxy.cfg")
	b, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range instances {
		want := "server " + name + " " + name + ":1110 send-proxy-v2 check port 9110"
		if !strings.Contains(string(b), want) {
			t.Errorf("haproxy.cfg lacks %q", want)
		}
	}
	if !strings.Contains(string(b), "option httpchk GET /readyz") {
		t.Error("haproxy.cfg does not check /readyz")
	}
	cmd := exec.Command(testpeer.Require(t, "haproxy"), "-c", "-f", cfgFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("haproxy -c: %v\n%s", err, out)
	}
}
