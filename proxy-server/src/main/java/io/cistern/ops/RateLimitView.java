package io.cistern.ops;

/**
 * The pull quota an upstream last reported (Docker Hub's {@code ratelimit-*} headers).
 *
 * @param windowSeconds the quota's window, or null when the upstream named none
 * @param low fewer than a tenth of the limit's requests are left
 */
public record RateLimitView(String upstream, long limit, long remaining, Long windowSeconds, boolean low) {}
