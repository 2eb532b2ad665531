package io.cistern.admin;

/** Who may call an admin route; {@link AdminGuard} enforces it. */
public enum AdminAccess {

  /** Anyone who reaches the port: probes, metrics, the status page and the numbers it shows. */
  OPEN,

  /** Reads what operators see (listings, jobs): the token when one is configured, else anyone. */
  READ,

  /** Changes the cache or touches files: the token when one is configured, else this machine only. */
  OPERATE
}
