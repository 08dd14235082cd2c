#include "tls_test_certs.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace ghostnet::test {

namespace {

namespace fs = std::filesystem;

class generator {
public:
  explicit generator(std::string dir) : dir_(std::move(dir)) {
    // nop
  }

  std::string path(const std::string& name) const {
    return dir_ + "/" + name;
  }

  void run(const std::string& cmd) const {
    auto full = "cd '" + dir_ + "' && " + cmd + " >>openssl.log 2>&1";
    if (std::system(full.c_str()) != 0)
      throw std::runtime_error("generating test certificates failed: " + cmd
                               + " (see " + path("openssl.log") + ")");
  }

  void write(const std::string& name, const std::string& text) const {
    std::ofstream out{path(name)};
    out << text;
    if (!out)
      throw std::runtime_error("cannot write " + path(name));
  }

  void key(const std::string& name) const {
    run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "
        + name + ".key");
  }

  void ca(const std::string& name, const std::string& cn) const {
    key(name);
    run("openssl req -x509 -new -key " + name + ".key -subj '/O=ghostnet/CN="
        + cn + "' -days 3650 -set_serial 1"
        + " -addext basicConstraints=critical,CA:TRUE"
        + " -addext keyUsage=critical,keyCertSign,cRLSign -out " + name
        + ".pem");
  }

  /// A leaf certificate `name` signed by CA `issuer`. days < 0: expired.
  void leaf(const std::string& name, const std::string& issuer,
            const std::string& cn, const std::string& san,
            const std::string& usage, int days) {
    key(name);
    write(name + ".ext", "basicConstraints=CA:FALSE\n"
                         "keyUsage=critical,digitalSignature\n"
                         "extendedKeyUsage="
                           + usage + "\n" + (san.empty() ? "" : "subjectAltName=" + san + "\n"));
    run("openssl req -new -key " + name + ".key -subj '/O=ghostnet/CN=" + cn
        + "' -out " + name + ".csr");
    run("openssl x509 -req -in " + name + ".csr -CA " + issuer + ".pem -CAkey "
        + issuer + ".key -set_serial " + std::to_string(++serial_) + " -days "
        + std::to_string(days) + " -extfile " + name + ".ext -out " + name
        + ".pem");
  }

private:
  std::string dir_;
  int serial_ = 100;
};

struct cert_dir {
  tls_test_certs certs;

  cert_dir() {
    auto tmpl = (fs::temp_directory_path() / "ghostnet-tls-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed for " + tmpl);
    certs.dir = buf.data();
    generator gen{certs.dir};
    gen.ca("ca", "ghostnet test CA");
    gen.ca("rogue_ca", "rogue test CA");
    gen.leaf("server", "ca", "localhost", "DNS:localhost,IP:127.0.0.1",
             "serverAuth", 365);
    gen.leaf("other", "ca", "other.test", "DNS:other.test", "serverAuth", 365);
    gen.leaf("wild", "ca", "*.wild.test", "DNS:*.wild.test", "serverAuth",
             365);
    gen.leaf("expired", "ca", "localhost", "DNS:localhost,IP:127.0.0.1",
             "serverAuth", -1);
    gen.leaf("client", "ca", "ghostnet test client", "", "clientAuth", 365);
    gen.leaf("rogue", "rogue_ca", "localhost", "DNS:localhost,IP:127.0.0.1",
             "serverAuth", 365);
    gen.leaf("rogue_client", "rogue_ca", "rogue test client", "",
             "clientAuth", 365);
    auto set = [&](std::string& cert, std::string& key, const char* name) {
      cert = gen.path(std::string{name} + ".pem");
      key = gen.path(std::string{name} + ".key");
    };
    std::string unused;
    set(certs.ca_cert, unused, "ca");
    set(certs.rogue_ca_cert, unused, "rogue_ca");
    set(certs.server_cert, certs.server_key, "server");
    set(certs.other_cert, certs.other_key, "other");
    set(certs.wild_cert, certs.wild_key, "wild");
    set(certs.expired_cert, certs.expired_key, "expired");
    set(certs.client_cert, certs.client_key, "client");
    set(certs.rogue_cert, certs.rogue_key, "rogue");
    set(certs.rogue_client_cert, certs.rogue_client_key, "rogue_client");
  }

  ~cert_dir() {
    std::error_code ec;
    fs::remove_all(certs.dir, ec);
  }
};

} // namespace

const tls_test_certs& test_certs() {
  static cert_dir instance; // thread-safe initialization; removed at exit
  return instance.certs;
}

transports::tls_options server_tls(std::vector<std::string> alpn) {
  transports::tls_options opts;
  opts.role = transports::tls_role::server;
  opts.certificate_chain_file = test_certs().server_cert;
  opts.private_key_file = test_certs().server_key;
  opts.alpn = std::move(alpn);
  return opts;
}

transports::tls_options client_tls() {
  transports::tls_options opts;
  opts.role = transports::tls_role::client;
  opts.ca_file = test_certs().ca_cert;
  return opts;
}

} // namespace ghostnet::test
