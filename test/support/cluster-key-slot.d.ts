// cluster-key-slot (ioredis's own slot function) ships no types.
declare module "cluster-key-slot" {
  /** The Redis Cluster slot of a key (its hash tag's, if it has one). */
  function calculateSlot(key: string | Buffer): number;
  export default calculateSlot;
}
