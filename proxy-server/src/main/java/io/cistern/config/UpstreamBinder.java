package io.cistern.config;

import io.cistern.config.CisternConfig.Repositories;
import io.cistern.config.CisternConfig.UpstreamConfig;
import io.cistern.upstream.RepositoryGlob;
import io.cistern.upstream.TagRevalidation;

/** Reads one entry of {@code upstreams}, for {@link ConfigBinder}. */
final class UpstreamBinder {

  private UpstreamBinder() {}

  static UpstreamConfig upstream(ConfigValue value) {
    ConfigSection upstream = value.section("host", "url", "username", "password", "tagTtl", "tagRevalidation",
        "maxStale", "caCertificate", "offline", "connectTimeout", "responseTimeout", "idleTimeout", "maxRetries",
        "retryWindow", "maxConcurrentRequests", "maxConcurrentBlobDownloads", "passwordEnv", "urls",
        "failoverMemory", "repositories", "mirror");
    return new UpstreamConfig(
        upstream.get("host").text(),
        upstream.get("url").uri(),
        upstream.get("username").text(),
        upstream.get("password").text(),
        upstream.get("tagTtl").duration(),
        upstream.get("tagRevalidation").parsed(TagRevalidation::parse),
        upstream.get("maxStale").duration(),
        upstream.get("caCertificate").file(),
        upstream.get("offline").flag(),
        upstream.get("connectTimeout").duration(),
        upstream.get("responseTimeout").duration(),
        upstream.get("idleTimeout").duration(),
        upstream.get("maxRetries").optionalInteger(),
        upstream.get("retryWindow").duration(),
        upstream.get("maxConcurrentRequests").optionalInteger(),
        upstream.get("maxConcurrentBlobDownloads").optionalInteger(),
        upstream.get("passwordEnv").text(),
        upstream.get("urls").list(ConfigValue::uri),
        upstream.get("failoverMemory").duration(),
        repositories(upstream.get("repositories")),
        upstream.get("mirror").text());
  }

  /** Each glob is checked as it is read, so a bad one is a mistake at its own key: {@code repositories.deny[1]}. */
  private static Repositories repositories(ConfigValue value) {
    ConfigSection repositories = value.section("allow", "deny");
    return repositories == null ? null : new Repositories(
        repositories.get("allow").list(UpstreamBinder::glob),
        repositories.get("deny").list(UpstreamBinder::glob));
  }

  private static RepositoryGlob glob(ConfigValue value) {
    return value.parsed(RepositoryGlob::parse);
  }
}
