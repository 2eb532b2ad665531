package io.cistern.proxy;

/**
 * Who asked: a client, or another member of the cluster. A member asks only for what this member
 * owns, so its request is never passed on to a member: what this member lacks, it fetches from
 * the bucket or its upstream itself.
 */
public enum Caller {
  CLIENT,
  MEMBER
}
