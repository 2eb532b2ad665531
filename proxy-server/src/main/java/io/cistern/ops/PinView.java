package io.cistern.ops;

/**
 * An image after {@code pin} or {@code unpin}.
 *
 * @param blobs stored manifests and blobs of the image
 * @param missing what it refers to that is not stored; pinned too once it is stored
 */
public record PinView(String image, String digest, boolean pinned, int blobs, long bytes, int missing) {}
