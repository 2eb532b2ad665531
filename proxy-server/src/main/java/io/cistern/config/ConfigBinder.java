package io.cistern.config;

import io.cistern.config.CisternConfig.AccessLog;
import io.cistern.config.CisternConfig.Admin;
import io.cistern.config.CisternConfig.Bucket;
import io.cistern.config.CisternConfig.Cache;
import io.cistern.config.CisternConfig.ClientAuth;
import io.cistern.config.CisternConfig.Cluster;
import io.cistern.config.CisternConfig.Log;
import io.cistern.config.CisternConfig.Scrub;
import io.cistern.config.CisternConfig.Security;
import io.cistern.config.CisternConfig.Server;
import io.cistern.config.CisternConfig.Shutdown;
import io.cistern.config.CisternConfig.Tls;
import io.cistern.upstream.TagRevalidation;

/**
 * Reads the merged configuration tree as {@link CisternConfig}, one section at a time: each
 * section names the keys it takes and reads each as its type. Upstreams, the longest section,
 * are {@link UpstreamBinder}'s.
 */
final class ConfigBinder {

  private ConfigBinder() {}

  static CisternConfig bind(ConfigMapping tree) {
    ConfigSection config = new ConfigValue("", tree).section("server", "cache", "upstreams", "defaultUpstream",
        "offline", "tagTtl", "tagRevalidation", "maxStale", "admin", "security", "log", "shutdown", "dockerConfig",
        "cluster", "bucket");
    return new CisternConfig(
        server(config.get("server")),
        cache(config.get("cache")),
        config.get("upstreams").list(UpstreamBinder::upstream),
        config.get("defaultUpstream").text(),
        config.get("offline").flag(),
        config.get("tagTtl").duration(),
        config.get("tagRevalidation").parsed(TagRevalidation::parse),
        config.get("maxStale").duration(),
        admin(config.get("admin")),
        security(config.get("security")),
        log(config.get("log")),
        shutdown(config.get("shutdown")),
        config.get("dockerConfig").file(),
        cluster(config.get("cluster")),
        bucket(config.get("bucket")));
  }

  private static Server server(ConfigValue value) {
    ConfigSection server = value.section("address", "port", "idleTimeout");
    return server == null ? null : new Server(
        server.get("address").text(),
        server.get("port").integer(),
        server.get("idleTimeout").duration());
  }

  private static Cache cache(ConfigValue value) {
    ConfigSection cache = value.section("directory", "maxBytes", "lowWaterFraction", "accessFlushInterval",
        "reservationTimeout", "poolSize", "minFreeDisk", "scrub");
    if (cache == null) {
      return null;
    }
    ConfigSection scrub = cache.get("scrub").section("bytesPerSecond");
    return new Cache(
        cache.get("directory").file(),
        cache.get("maxBytes").size(),
        cache.get("lowWaterFraction").decimal(),
        cache.get("accessFlushInterval").duration(),
        cache.get("reservationTimeout").duration(),
        cache.get("poolSize").integer(),
        cache.get("minFreeDisk").size(),
        scrub == null ? null : new Scrub(scrub.get("bytesPerSecond").size()));
  }

  private static Admin admin(ConfigValue value) {
    ConfigSection admin = value.section("address", "port", "minFreeDisk", "token", "bundleDirectory", "idleTimeout");
    return admin == null ? null : new Admin(
        admin.get("address").text(),
        admin.get("port").integer(),
        admin.get("minFreeDisk").size(),
        admin.get("token").text(),
        admin.get("bundleDirectory").file(),
        admin.get("idleTimeout").duration());
  }

  private static Security security(ConfigValue value) {
    ConfigSection security = value.section("tls", "auth");
    if (security == null) {
      return null;
    }
    ConfigSection tls = security.get("tls").section("certificate", "key");
    ConfigSection auth = security.get("auth").section("realm", "htpasswd", "bearerToken");
    return new Security(
        tls == null ? null : new Tls(tls.get("certificate").file(), tls.get("key").file()),
        auth == null ? null : new ClientAuth(
            auth.get("realm").text(),
            auth.get("htpasswd").file(),
            auth.get("bearerToken").text()));
  }

  private static Log log(ConfigValue value) {
    ConfigSection log = value.section("level", "access");
    if (log == null) {
      return null;
    }
    ConfigSection access = log.get("access").section("format", "level");
    return new Log(
        log.get("level").text(),
        access == null ? null : new AccessLog(access.get("format").text(), access.get("level").text()));
  }

  private static Shutdown shutdown(ConfigValue value) {
    ConfigSection shutdown = value.section("grace");
    return shutdown == null ? null : new Shutdown(shutdown.get("grace").duration());
  }

  private static Cluster cluster(ConfigValue value) {
    ConfigSection cluster = value.section("members", "service", "servicePort", "refreshInterval", "self", "token",
        "probeInterval");
    return cluster == null ? null : new Cluster(
        cluster.get("members").list(ConfigValue::uri),
        cluster.get("service").text(),
        cluster.get("servicePort").integer(),
        cluster.get("refreshInterval").duration(),
        cluster.get("self").uri(),
        cluster.get("token").text(),
        cluster.get("probeInterval").duration());
  }

  private static Bucket bucket(ConfigValue value) {
    ConfigSection bucket = value.section("name", "endpoint", "region", "prefix", "pathStyle", "accessKeyId",
        "secretAccessKeyEnv", "redirect", "presignTtl");
    return bucket == null ? null : new Bucket(
        bucket.get("name").text(),
        bucket.get("endpoint").uri(),
        bucket.get("region").text(),
        bucket.get("prefix").text(),
        bucket.get("pathStyle").flag(),
        bucket.get("accessKeyId").text(),
        bucket.get("secretAccessKeyEnv").text(),
        bucket.get("redirect").flag(),
        bucket.get("presignTtl").duration());
  }
}
