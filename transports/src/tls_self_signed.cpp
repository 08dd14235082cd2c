#include "ghostnet/transports/tls_self_signed.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ghostnet/actors/error.hpp"
#include "ghostnet/actors/format.hpp"
#include "ghostnet/transports/tls_context.hpp"
#include "ghostnet/transports/tls_options.hpp"

namespace ghostnet::transports {

namespace {

constexpr const char* operation = "create self-signed certificate";
constexpr const char* certificate_name = "self-signed.crt";
constexpr const char* key_name = "self-signed.key";

// Bounds how often a system call interrupted by a signal is retried.
constexpr int max_eintr_retries = 100;

// -- errors -------------------------------------------------------------------

caf::error bad_option(const std::string& field, std::string why) {
  return config_error(operation, "", field, std::move(why));
}

/// `what` is the failed step, e.g. "create directory"; `os_errno` its errno.
caf::error os_failure(int os_errno, const std::string& what,
                      const std::string& path) {
  return make_error(errc::io_error, operation, "", os_errno,
                    what + " " + quoted(path) + ": "
                      + std::strerror(os_errno));
}

caf::error openssl_failure(const std::string& what) {
  return make_error(errc::invalid_state, operation, "", 0,
                    what + ": "
                      + detail::take_openssl_errors("no reason given"));
}

// -- options ------------------------------------------------------------------

bool is_host_name(const std::string& name) {
  auto rest = name.compare(0, 2, "*.") == 0 ? name.substr(2) : name;
  if (rest.empty() || name.size() > 253)
    return false;
  for (unsigned char c : rest)
    if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_'))
      return false;
  return true;
}

caf::error check_options(const self_signed_options& opts) {
  if (opts.directory.empty())
    return bad_option("directory", "must not be empty");
  if (opts.common_name.empty() || opts.common_name.size() > 64)
    return bad_option("common_name", "must have 1 to 64 bytes, "
                                       + quoted(opts.common_name) + " has "
                                       + std::to_string(opts.common_name.size()));
  for (const auto& name : opts.dns_names)
    if (!is_host_name(name))
      return bad_option("dns_names", quoted(name) + " is not a host name");
  for (const auto& addr : opts.ip_addresses)
    if (!detail::is_ip_literal(addr))
      return bad_option("ip_addresses",
                        quoted(addr) + " is not an IPv4 or IPv6 address");
  if (opts.dns_names.empty() && opts.ip_addresses.empty())
    return bad_option("dns_names", "dns_names and ip_addresses are both empty:"
                                   " a certificate needs a name to match");
  constexpr auto hundred_years = std::chrono::hours{24 * 36525};
  if (opts.validity < std::chrono::hours{1} || opts.validity > hundred_years)
    return bad_option("validity", "must be 1 h to 100 years, not "
                                    + std::to_string(opts.validity.count())
                                    + " h");
  return caf::none;
}

// -- files --------------------------------------------------------------------

/// Owns a file descriptor.
class unique_fd {
public:
  explicit unique_fd(int fd = -1) noexcept : fd_(fd) {
    // nop
  }
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {
    // nop
  }
  unique_fd& operator=(unique_fd&&) = delete;
  ~unique_fd() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  int get() const noexcept {
    return fd_;
  }
  /// Closes now, returning close()'s errno (0 on success).
  int close() noexcept {
    auto fd = std::exchange(fd_, -1);
    return fd >= 0 && ::close(fd) != 0 ? errno : 0;
  }

private:
  int fd_;
};

/// Creates `dir` and its missing parents with mode 0700, like `mkdir -p`.
caf::error make_directories(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return caf::none;
  // One mkdir per component, shortest prefix first.
  for (auto pos = dir.find('/', 1);; pos = dir.find('/', pos + 1)) {
    auto prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST)
      return os_failure(errno, "create directory", prefix);
    if (pos == std::string::npos)
      break;
  }
  if (::stat(dir.c_str(), &st) != 0)
    return os_failure(errno, "create directory", dir);
  if (!S_ISDIR(st.st_mode))
    return os_failure(ENOTDIR, "create directory", dir);
  return caf::none;
}

/// Opens `dir` and takes an exclusive flock on it: one generator at a time,
/// across processes. The lock goes with the descriptor.
caf::expected<unique_fd> lock_directory(const std::string& dir) {
  unique_fd fd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (fd.get() < 0)
    return os_failure(errno, "open directory", dir);
  for (int i = 0; ::flock(fd.get(), LOCK_EX) != 0; ++i)
    if (errno != EINTR || i == max_eintr_retries)
      return os_failure(errno, "lock directory", dir);
  return fd;
}

/// True if `path` is a regular file, false if nothing is there.
caf::expected<bool> file_exists(const std::string& field,
                                const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT)
      return false;
    return os_failure(errno, "inspect", path);
  }
  if (!S_ISREG(st.st_mode))
    return bad_option(field, quoted(path) + " is not a regular file");
  return true;
}

/// A file written under a temporary name next to its final path and renamed
/// into place by commit(); removed if never committed.
class temp_file {
public:
  explicit temp_file(std::string final_path)
    : final_path_(std::move(final_path)) {
    // nop
  }

  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;

  ~temp_file() {
    if (!path_.empty())
      ::unlink(path_.c_str());
  }

  /// Writes `content` with permissions `mode` and flushes it to disk.
  caf::error write(const std::string& content, mode_t mode) {
    std::string name = final_path_ + ".tmp.XXXXXX";
    unique_fd fd{::mkostemp(name.data(), O_CLOEXEC)}; // mode 0600
    if (fd.get() < 0)
      return os_failure(errno, "create", name);
    path_ = name;
    if (::fchmod(fd.get(), mode) != 0)
      return os_failure(errno, "chmod", path_);
    size_t done = 0;
    for (int interrupted = 0; done < content.size();) {
      auto n = ::write(fd.get(), content.data() + done, content.size() - done);
      if (n >= 0)
        done += static_cast<size_t>(n);
      else if (errno != EINTR || ++interrupted > max_eintr_retries)
        return os_failure(errno, "write", path_);
    }
    // Without fsync a crash right after the rename may leave an empty file.
    if (::fsync(fd.get()) != 0)
      return os_failure(errno, "fsync", path_);
    if (auto err = fd.close(); err != 0)
      return os_failure(err, "close", path_);
    return caf::none;
  }

  caf::error commit() {
    if (::rename(path_.c_str(), final_path_.c_str()) != 0)
      return os_failure(errno, "rename to " + quoted(final_path_) + ":", path_);
    path_.clear();
    return caf::none;
  }

private:
  std::string final_path_;
  std::string path_; ///< the temporary file while it exists
};

// -- OpenSSL ------------------------------------------------------------------

struct openssl_deleter {
  void operator()(EVP_PKEY* p) const noexcept {
    EVP_PKEY_free(p);
  }
  void operator()(X509* p) const noexcept {
    X509_free(p);
  }
  void operator()(X509_EXTENSION* p) const noexcept {
    X509_EXTENSION_free(p);
  }
  void operator()(BIGNUM* p) const noexcept {
    BN_free(p);
  }
  void operator()(BIO* p) const noexcept {
    BIO_free(p);
  }
};

using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter>;
using x509_ptr = std::unique_ptr<X509, openssl_deleter>;
using extension_ptr = std::unique_ptr<X509_EXTENSION, openssl_deleter>;
using bignum_ptr = std::unique_ptr<BIGNUM, openssl_deleter>;
using bio_ptr = std::unique_ptr<BIO, openssl_deleter>;

struct pem_files {
  std::string certificate;
  std::string private_key;
};

/// Builds the self-signed certificate of a new key, step by step.
class certificate_builder {
public:
  explicit certificate_builder(const self_signed_options& opts) : opts_(opts) {
    // nop
  }

  caf::expected<pem_files> build() {
    key_.reset(EVP_EC_gen("P-256"));
    if (!key_)
      return openssl_failure("generate an EC P-256 key");
    cert_.reset(X509_new());
    if (!cert_ || X509_set_version(cert_.get(), X509_VERSION_3) != 1
        || X509_set_pubkey(cert_.get(), key_.get()) != 1)
      return openssl_failure("make a certificate");
    if (auto err = set_serial(); err)
      return err;
    if (auto err = set_validity(); err)
      return err;
    if (auto err = set_names(); err)
      return err;
    if (auto err = add_extensions(); err)
      return err;
    if (X509_sign(cert_.get(), key_.get(), EVP_sha256()) == 0)
      return openssl_failure("sign the certificate");
    return to_pem();
  }

private:
  caf::error set_serial() {
    // 159 random bits: positive and within RFC 5280's 20 octets.
    bignum_ptr bn{BN_new()};
    if (!bn || BN_rand(bn.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1
        || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert_.get())))
      return openssl_failure("make a serial number");
    return caf::none;
  }

  caf::error set_validity() {
    // An hour in the past: a peer whose clock lags still accepts it.
    auto hours = opts_.validity.count();
    if (!X509_gmtime_adj(X509_getm_notBefore(cert_.get()), -3600)
        || !X509_time_adj_ex(X509_getm_notAfter(cert_.get()),
                             static_cast<int>(hours / 24),
                             static_cast<long>(hours % 24) * 3600, nullptr))
      return openssl_failure("set the validity");
    return caf::none;
  }

  caf::error set_names() {
    auto* name = X509_get_subject_name(cert_.get());
    const auto& cn = opts_.common_name;
    if (X509_NAME_add_entry_by_txt(
          name, "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(cn.data()),
          static_cast<int>(cn.size()), -1, 0)
        != 1)
      return bad_option("common_name",
                        quoted(cn) + " refused by OpenSSL ("
                          + detail::take_openssl_errors() + ")");
    if (X509_set_issuer_name(cert_.get(), name) != 1)
      return openssl_failure("set the issuer name");
    return caf::none;
  }

  caf::error add_extensions() {
    // CA:FALSE: an end-entity certificate (RFC 5280 allows keyCertSign only
    // with CA:TRUE, and NSS rejects CA certificates as servers). OpenSSL 3
    // still takes it as its own trust anchor: it calls a certificate
    // self-signed by issuer name, key identifiers and signature alone.
    // digitalSignature is what an ECDSA server key does in the handshake.
    std::string san;
    for (const auto& name : opts_.dns_names)
      san += (san.empty() ? "DNS:" : ",DNS:") + name;
    for (const auto& addr : opts_.ip_addresses)
      san += (san.empty() ? "IP:" : ",IP:") + addr;
    const std::pair<int, std::string> extensions[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "serverAuth"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"}, // needs the SKI first
      {NID_subject_alt_name, san},
    };
    for (const auto& [nid, value] : extensions) {
      X509V3_CTX ctx;
      X509V3_set_ctx_nodb(&ctx);
      X509V3_set_ctx(&ctx, cert_.get(), cert_.get(), nullptr, nullptr, 0);
      extension_ptr ext{X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str())};
      if (!ext || X509_add_ext(cert_.get(), ext.get(), -1) != 1)
        return openssl_failure(std::string{"add extension "} + OBJ_nid2sn(nid)
                               + " = " + value);
    }
    return caf::none;
  }

  caf::expected<pem_files> to_pem() {
    bio_ptr cert_bio{BIO_new(BIO_s_mem())};
    bio_ptr key_bio{BIO_new(BIO_s_mem())};
    if (!cert_bio || !key_bio
        || PEM_write_bio_X509(cert_bio.get(), cert_.get()) != 1
        || PEM_write_bio_PrivateKey(key_bio.get(), key_.get(), nullptr,
                                    nullptr, 0, nullptr, nullptr)
             != 1)
      return openssl_failure("encode as PEM");
    auto text = [](BIO* bio) {
      char* data = nullptr;
      auto len = BIO_get_mem_data(bio, &data);
      return std::string(data, static_cast<size_t>(len));
    };
    return pem_files{text(cert_bio.get()), text(key_bio.get())};
  }

  const self_signed_options& opts_;
  pkey_ptr key_;
  x509_ptr cert_;
};

/// Generates and writes both files; the caller holds the directory lock.
caf::error generate(const self_signed_options& opts,
                    const self_signed_files& files, int dir_fd,
                    const std::string& dir) {
  auto pem = certificate_builder{opts}.build();
  if (!pem)
    return std::move(pem.error());
  // Both written before either is renamed: a failure leaves neither behind.
  temp_file key{files.private_key_file};
  temp_file cert{files.certificate_chain_file};
  if (auto err = key.write(pem->private_key, 0600); err)
    return err;
  if (auto err = cert.write(pem->certificate, 0644); err)
    return err;
  if (auto err = key.commit(); err)
    return err;
  if (auto err = cert.commit(); err) {
    ::unlink(files.private_key_file.c_str()); // no key without certificate
    return err;
  }
  // The renames are durable once the directory is.
  if (::fsync(dir_fd) != 0)
    return os_failure(errno, "fsync directory", dir);
  return caf::none;
}

/// `dir` without trailing slashes ("/" stays "/").
std::string trimmed(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  return dir;
}

caf::expected<self_signed_files>
ensure_files(const self_signed_options& opts) {
  if (auto err = check_options(opts); err)
    return err;
  auto dir = trimmed(opts.directory);
  self_signed_files files;
  auto prefix = dir == "/" ? dir : dir + "/";
  files.certificate_chain_file = prefix + certificate_name;
  files.private_key_file = prefix + key_name;
  if (auto err = make_directories(dir); err)
    return err;
  auto lock = lock_directory(dir);
  if (!lock)
    return std::move(lock.error());
  auto have_cert = file_exists("certificate_chain_file",
                               files.certificate_chain_file);
  if (!have_cert)
    return std::move(have_cert.error());
  auto have_key = file_exists("private_key_file", files.private_key_file);
  if (!have_key)
    return std::move(have_key.error());
  if (*have_cert && *have_key)
    return files;
  if (*have_cert != *have_key) {
    auto field = *have_cert ? "private_key_file" : "certificate_chain_file";
    const auto& missing = *have_cert ? files.private_key_file
                                     : files.certificate_chain_file;
    const auto& present = *have_cert ? files.certificate_chain_file
                                     : files.private_key_file;
    return bad_option(field, quoted(missing) + " is missing but "
                               + quoted(present)
                               + " exists (delete it to generate both anew)");
  }
  if (auto err = generate(opts, files, lock->get(), dir); err)
    return err;
  files.generated = true;
  return files;
}

} // namespace

caf::expected<self_signed_files>
ensure_self_signed_certificate(const self_signed_options& opts) {
  // OpenSSL's error queue is per thread: leave it as empty as we found it.
  ERR_clear_error();
  auto result = ensure_files(opts);
  ERR_clear_error();
  return result;
}

} // namespace ghostnet::transports
