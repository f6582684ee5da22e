// SPDX-License-Identifier: GPL-2.0

#include <linux/if_vlan.h>

#ifdef CONFIG_NET

__rust_helper void rust_helper___vlan_hwaccel_put_tag(struct sk_buff *skb,
						       __be16 vlan_proto,
						       u16 vlan_tci)
{
	__vlan_hwaccel_put_tag(skb, vlan_proto, vlan_tci);
}

#endif /* CONFIG_NET */
