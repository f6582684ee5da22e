// SPDX-License-Identifier: GPL-2.0

#include <linux/netdevice.h>

#ifdef CONFIG_NET

__rust_helper void *rust_helper_netdev_priv(const struct net_device *dev)
{
	return netdev_priv(dev);
}

__rust_helper void rust_helper_dev_hold(struct net_device *dev)
{
	dev_hold(dev);
}

__rust_helper void rust_helper_dev_put(struct net_device *dev)
{
	dev_put(dev);
}

__rust_helper void rust_helper_netdev_lock(struct net_device *dev)
{
	netdev_lock(dev);
}

__rust_helper void rust_helper_netdev_unlock(struct net_device *dev)
{
	netdev_unlock(dev);
}

__rust_helper bool rust_helper_netif_running(const struct net_device *dev)
{
	return netif_running(dev);
}

__rust_helper bool rust_helper_netif_carrier_ok(const struct net_device *dev)
{
	return netif_carrier_ok(dev);
}

/* TX queues and BQL */

__rust_helper struct netdev_queue *
rust_helper_netdev_get_tx_queue(const struct net_device *dev,
				unsigned int index)
{
	return netdev_get_tx_queue(dev, index);
}

__rust_helper void rust_helper_netif_tx_start_queue(struct netdev_queue *dev_queue)
{
	netif_tx_start_queue(dev_queue);
}

__rust_helper void rust_helper_netif_tx_stop_queue(struct netdev_queue *dev_queue)
{
	netif_tx_stop_queue(dev_queue);
}

__rust_helper bool
rust_helper_netif_tx_queue_stopped(const struct netdev_queue *dev_queue)
{
	return netif_tx_queue_stopped(dev_queue);
}

__rust_helper void rust_helper_netif_tx_start_all_queues(struct net_device *dev)
{
	netif_tx_start_all_queues(dev);
}

__rust_helper void rust_helper_netif_tx_wake_all_queues(struct net_device *dev)
{
	netif_tx_wake_all_queues(dev);
}

__rust_helper void rust_helper_netif_tx_disable(struct net_device *dev)
{
	netif_tx_disable(dev);
}

__rust_helper void rust_helper___netif_tx_lock_bh(struct netdev_queue *txq)
{
	__netif_tx_lock_bh(txq);
}

__rust_helper void rust_helper___netif_tx_unlock_bh(struct netdev_queue *txq)
{
	__netif_tx_unlock_bh(txq);
}

__rust_helper void rust_helper_netdev_tx_sent_queue(struct netdev_queue *dev_queue,
						    unsigned int bytes)
{
	netdev_tx_sent_queue(dev_queue, bytes);
}

__rust_helper void
rust_helper_netdev_tx_completed_queue(struct netdev_queue *dev_queue,
				      unsigned int pkts, unsigned int bytes)
{
	netdev_tx_completed_queue(dev_queue, pkts, bytes);
}

__rust_helper void rust_helper_netdev_tx_reset_queue(struct netdev_queue *q)
{
	netdev_tx_reset_queue(q);
}

/* NAPI */

__rust_helper void
rust_helper_netif_napi_add_weight(struct net_device *dev,
				  struct napi_struct *napi,
				  int (*poll)(struct napi_struct *, int),
				  int weight)
{
	netif_napi_add_weight(dev, napi, poll, weight);
}

__rust_helper void rust_helper_netif_napi_del(struct napi_struct *napi)
{
	netif_napi_del(napi);
}

__rust_helper bool rust_helper_napi_schedule(struct napi_struct *n)
{
	return napi_schedule(n);
}

__rust_helper gro_result_t rust_helper_napi_gro_receive(struct napi_struct *napi,
							struct sk_buff *skb)
{
	return napi_gro_receive(napi, skb);
}

/* Ethernet addresses */

__rust_helper void rust_helper_netdev_priv_flags_set(struct net_device *dev,
						     unsigned int flags)
{
	dev->priv_flags |= flags;
}

__rust_helper void rust_helper_netdev_priv_flags_clear(struct net_device *dev,
						       unsigned int flags)
{
	dev->priv_flags &= ~flags;
}

__rust_helper bool rust_helper___netdev_tx_sent_queue(struct netdev_queue *dev_queue,
						      unsigned int bytes, bool xmit_more)
{
	return __netdev_tx_sent_queue(dev_queue, bytes, xmit_more);
}

__rust_helper bool rust_helper_netdev_xmit_more(void)
{
	return netdev_xmit_more();
}

#endif /* CONFIG_NET */
